from .multimodal_data_preprocessor import MultiModalDataPreprocessor

__all__ = ['MultiModalDataPreprocessor']
