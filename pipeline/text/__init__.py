"""Arabic text handling shared by every stage: one normaliser, one tokenizer."""

from pipeline.text.normalise import NormaliseOptions, normalise, normalise_with_offsets
from pipeline.text.tokenize import Analyzer, Token, strip_prefix, tokenize

__all__ = [
    "Analyzer",
    "NormaliseOptions",
    "Token",
    "normalise",
    "normalise_with_offsets",
    "strip_prefix",
    "tokenize",
]
