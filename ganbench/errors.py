"""User-facing errors: the CLI prints them as one line and exits non-zero, never a traceback."""


class GanbenchError(Exception):
    """An error caused by user input or environment, shown as one line."""

    exit_code = 2


class UnknownNameError(GanbenchError, KeyError):
    """A name not found in a registry; the message lists the closest matches."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class DataNotFoundError(GanbenchError):
    """A dataset or weights file could not be found; the message lists where we looked."""


class ChecksumMismatchError(GanbenchError):
    """A downloaded file is not the published one (its checksum differs); nothing was kept."""
