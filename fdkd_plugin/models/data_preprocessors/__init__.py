from .multimodal_data_preprocessor import MultiModalDataPreprocessor
from .norm import paired_preprocessor_cfg

__all__ = ['MultiModalDataPreprocessor', 'paired_preprocessor_cfg']
