"""Stable article ids: every downstream write is an upsert by this id, so redelivery is harmless."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["article_id", "canonical_url"]

_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ref",
        "ref_src",
        "cmpid",
        "traffic_source",
        "ocid",
        "smid",
    }
)
_TRACKING_PREFIXES = ("utm_", "at_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PCT = re.compile(r"%[0-9a-fA-F]{2}")


def _normalise_path(path: str) -> str:
    """Decode and re-encode the path so %d9%82 and %D9%82 and raw Arabic all compare equal."""
    return quote(unquote(path), safe="/:@!$&'()*+,;=-._~") or "/"


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop default port, fragment and tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_PARAMS
    ]
    return urlunsplit((scheme, netloc, _normalise_path(parts.path), urlencode(sorted(query)), ""))


def _digest(kind: str, value: str) -> str:
    return hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=16).hexdigest()


def article_id(url: str | None, guid: str | None = None, *, source: str = "") -> str:
    """Hash of the canonical URL; without a URL, the feed GUID scoped to its source."""
    if url and urlsplit(url.strip()).scheme.lower() in ("http", "https"):
        return _digest("url", canonical_url(url))
    if guid:
        return _digest("guid", f"{source}\x00{guid.strip()}")
    raise ValueError("an article needs an http(s) URL or a GUID to get a stable id")
