"""Feature extractors (the ``FeatureExtractor`` interface, registered in ``ganbench.registry.EXTRACTORS``)
and the feature cache."""

# Importing them registers the extractors: inception (and the cache), classifier ("domain"), clip and
# dinov2 (the CLIP and DINOv2 ones).
from ganbench.features import cache, classifier, clip, dinov2, inception  # noqa: F401
from ganbench.features.base import ExtractorOptions, FeatureExtractor, build_extractor, extract_features
from ganbench.features.cache import FeatureCache
from ganbench.features.inception import InceptionExtractor

__all__ = ["ExtractorOptions", "FeatureCache", "FeatureExtractor", "InceptionExtractor", "build_extractor",
           "extract_features"]
