"""Command-line interface. Subcommands live in their own modules and attach to ``app.cli``."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from ganbench.cli.app import cli
from ganbench.errors import GanbenchError

_COMMANDS = ("listing", "run", "eval", "check", "report", "data", "sweep")
for _name in _COMMANDS:
    if importlib.util.find_spec(f"ganbench.cli.{_name}") is not None:
        importlib.import_module(f"ganbench.cli.{_name}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit, never a traceback."""
    try:
        cli.main(args=argv, prog_name="ganbench", standalone_mode=False)
    except GanbenchError as e:
        click.echo(f"ganbench: error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("ganbench: interrupted; finished work is on disk, continue with --resume --out DIR", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("ganbench: interrupted; finished work is on disk, continue with --resume --out DIR", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except BrokenPipeError:
        sys.exit(1)


if __name__ == "__main__":
    main()
