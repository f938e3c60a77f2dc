"""predelinq: real-time pre-delinquency intervention engine."""

__version__ = "0.1.0"
__all__ = ["__version__"]
