"""Command-line interface. Subcommands live in their own modules and attach to ``app.cli``."""

from __future__ import annotations

import importlib
import importlib.util
import sys

from ganbench.cli.app import cli

_COMMANDS = ("listing", "run", "eval", "check", "compare", "report", "data", "stats", "sweep")
for _name in _COMMANDS:
    if importlib.util.find_spec(f"ganbench.cli.{_name}") is not None:
        importlib.import_module(f"ganbench.cli.{_name}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line and exit 2 for user errors, one line and a log file for bugs (exit 1)."""
    from ganbench.cli.errors import run_guarded

    args = list(sys.argv[1:] if argv is None else argv)
    code = run_guarded(lambda a: cli.main(args=a, prog_name="ganbench", standalone_mode=False), args)
    sys.exit(code)


if __name__ == "__main__":
    main()
