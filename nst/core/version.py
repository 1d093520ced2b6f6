"""The version of this package, written in its recipes."""

__version__ = "0.1.0"
