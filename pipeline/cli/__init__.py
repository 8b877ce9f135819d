"""The `rasd` command: one module per subcommand, each a thin layer over library functions."""

__all__: list[str] = []
