"""The installed rwmu version (written next to every run's outputs)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rwmu")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
