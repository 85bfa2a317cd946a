"""Analysis of trained modality pairs: the measurements behind the paper's
figures (CKA of raw / low / high features, Fig. 1 and Appendix B; feature
statistics, Fig. 2; t-SNE, Fig. 6). The command-line tools live in
``tools/analysis_tools/``.

Importable on its own (``import fdkd_plugin.analysis``); it is not imported
by ``import fdkd_plugin``.
"""
from .cka import band_cka, band_cosine, linear_cka, paired_cosine
from .features import (BANDS, FDKD_FEATURE, FeatureExtractor, FeatureSource,
                       auto_source, extract_features, extract_paired_features,
                       network_modality, split_bands)
from .loading import (Network, build_paired_loader, load_config, load_networks,
                      packed_modalities)

__all__ = [
    'linear_cka', 'band_cka', 'paired_cosine', 'band_cosine', 'BANDS',
    'FDKD_FEATURE', 'FeatureSource', 'FeatureExtractor', 'extract_features',
    'extract_paired_features', 'network_modality', 'split_bands',
    'auto_source', 'Network', 'load_config', 'load_networks',
    'packed_modalities', 'build_paired_loader'
]
