"""Feature extractors (registered in ``ganbench.registry.EXTRACTORS``) and the feature cache."""

from ganbench.features import cache, inception  # noqa: F401  (imports register extractors)
from ganbench.features import classifier  # noqa: F401  (registers the "domain" extractor)
from ganbench.features import clip, dinov2  # noqa: F401  (register the DINOv2 and CLIP extractors)
from ganbench.features.cache import FeatureCache
from ganbench.features.inception import InceptionExtractor, extract_features

__all__ = ["FeatureCache", "InceptionExtractor", "extract_features"]
