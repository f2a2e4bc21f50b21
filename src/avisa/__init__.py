"""avisa: self-hosted appointment reminders in one program."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("avisa")
except PackageNotFoundError:  # pragma: no cover - only when running from a bare checkout
    __version__ = "0.0.0"

__all__ = ["__version__"]
