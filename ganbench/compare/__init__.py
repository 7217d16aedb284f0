"""Model comparisons over training seeds: best groups, pairwise tests, probability of improvement,
effect sizes, seed-count advice, and rankings across datasets (``ganbench compare``).

``stats`` works on arrays; ``seeds`` picks each seed's record and checks comparability; ``result``
assembles one comparison per (dataset, metric); ``ranking`` ranks models across datasets.
"""
