"""The CLI's one error path: what the user sees when a command fails.

An anticipated failure (``GanbenchError``) is one line and exit 2. Anything else is a bug: one
line naming a log file that holds the traceback, exit 1. ``--debug`` (or ``GANBENCH_DEBUG=1``)
lets the traceback through instead.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import traceback
from pathlib import Path

import click

from ganbench.errors import GanbenchError

EXIT_BUG, EXIT_USER, EXIT_INTERRUPT = 1, 2, 130
# What is safe after Ctrl-C, per command: only `run` can continue where it stopped.
_INTERRUPT_HINT = {
    "run": "finished runs are on disk; continue with the same command plus --resume --out DIR",
    "eval": "nothing was written; run the command again",
}


def debug_requested(argv: list[str]) -> tuple[bool, list[str]]:
    """(--debug given or GANBENCH_DEBUG set, argv without --debug)."""
    env = os.environ.get("GANBENCH_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
    return env or "--debug" in argv, [a for a in argv if a != "--debug"]


def command_of(argv: list[str]) -> str:
    return next((a for a in argv if not a.startswith("-")), "")


def interrupt_line(argv: list[str]) -> str:
    return "ganbench: interrupted; " + _INTERRUPT_HINT.get(command_of(argv), "nothing was written")


def _log_dir() -> Path:
    from ganbench.io import cache_root

    return cache_root() / "logs"


def write_crash_log(argv: list[str], exc: BaseException) -> Path | None:
    """Write the traceback to a new log file; None when no folder is writable."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = (f"ganbench {' '.join(argv)}\npid {os.getpid()}, {dt.datetime.now().isoformat()}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    for folder in (_log_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, path = tempfile.mkstemp(prefix=f"ganbench-crash-{stamp}-", suffix=".log", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return Path(path)
        except OSError:
            continue
    return None


def report_bug(argv: list[str], exc: BaseException) -> int:
    first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
    log = write_crash_log(argv, exc)
    where = f"traceback in {log}" if log else "no writable folder for the traceback; rerun with --debug"
    click.echo(f"ganbench: internal error: {type(exc).__name__}: {first[:200]} ({where}); please report it",
               err=True)
    return EXIT_BUG


def one_line(msg: object) -> str:
    """A message folded onto one line (a GanbenchError may quote multi-line text)."""
    return " ".join(str(msg).split()) if "\n" in str(msg) else str(msg)


def run_guarded(invoke, argv: list[str]) -> int:
    """Call ``invoke(argv)``; map every failure to (message, exit code) as the module says."""
    debug, argv = debug_requested(argv)
    try:
        invoke(argv)
        return 0
    except GanbenchError as e:
        click.echo(f"ganbench: error: {one_line(e)}", err=True)
        if debug:
            traceback.print_exc()
        return e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(interrupt_line(argv), err=True)
        return EXIT_INTERRUPT
    except click.ClickException as e:  # usage errors too: one line, not click's three
        hint = ""
        if isinstance(e, click.UsageError) and e.ctx is not None:
            hint = f" (see {e.ctx.command_path} --help)"
        click.echo(f"ganbench: error: {one_line(e.format_message())}{hint}", err=True)
        return e.exit_code
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BrokenPipeError:
        return 1
    except MemoryError:
        if debug:
            raise
        click.echo("ganbench: error: out of memory; use fewer samples (-n, --n-real) or a smaller "
                   "--batch-size", err=True)
        return EXIT_USER
    except Exception as e:
        if debug:
            raise
        return report_bug(argv, e)
