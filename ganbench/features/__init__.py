"""Feature extractors (the ``FeatureExtractor`` interface, registered in ``ganbench.registry.EXTRACTORS``)
and the feature cache."""

from ganbench.features import cache, inception  # noqa: F401  (imports register extractors)
from ganbench.features import classifier  # noqa: F401  (registers the "domain" extractor)
from ganbench.features import clip, dinov2  # noqa: F401  (register the DINOv2 and CLIP extractors)
from ganbench.features.base import ExtractorOptions, FeatureExtractor, build_extractor, extract_features
from ganbench.features.cache import FeatureCache
from ganbench.features.inception import InceptionExtractor

__all__ = ["ExtractorOptions", "FeatureCache", "FeatureExtractor", "InceptionExtractor", "build_extractor",
           "extract_features"]
