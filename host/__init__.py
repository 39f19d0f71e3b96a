"""The ledhost display host."""

__version__ = "0.1.0"
