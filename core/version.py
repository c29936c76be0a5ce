"""The software version written into project files and results."""

__version__ = "0.1.0"
