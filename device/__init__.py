"""OHSA station: everything that runs on the Raspberry Pi."""

__version__ = "0.1.0"
