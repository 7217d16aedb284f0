"""ganbench: a GAN benchmark and evaluation harness."""

__version__ = "0.1.0"
