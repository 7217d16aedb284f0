"""Metric math over features (pure functions, one module per metric family) and the metric
catalogue (``spec``: what each metric means). Importing the package is light: the built-in
metrics register themselves from ``ganbench.metrics.builtin``, which ``ganbench.registry``
imports when a metric is first asked for (their names and help are declared there).
"""

from ganbench.metrics.spec import MetricSpec

__all__ = ["MetricSpec"]
