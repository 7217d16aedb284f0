"""Generators: the protocol and seeded sampling (``sampling``), loading any generator file or
entry point through a table of loaders (``loading``), and ganbench's checkpoint format
(``checkpoint``)."""

from ganbench.generators.sampling import Generator, class_labels, device_of, sample, sample_all

__all__ = ["Generator", "class_labels", "device_of", "sample", "sample_all"]
