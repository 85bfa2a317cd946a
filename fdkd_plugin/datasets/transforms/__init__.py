"""Transforms of the audio-visual pipelines (registered in ``TRANSFORMS``)."""
from .audio import Spectrogram, stft_magnitude
from .formatting import PackMultiModalInputs
from .loading import LoadAudio, LoadFrames, LoadSpectrogram
from .segmentation import (LoadRGBD, MultiModalNormalize, MultiModalPad,
                           MultiModalRandomCrop, MultiModalRandomFlip,
                           MultiModalRandomResize, PackMultiModalSegInputs,
                           RandomHSV, encode_depth)
from .text import TokenizeText, normalize_tweet

__all__ = [
    'LoadAudio', 'LoadSpectrogram', 'LoadFrames', 'Spectrogram',
    'stft_magnitude', 'PackMultiModalInputs', 'TokenizeText',
    'normalize_tweet', 'LoadRGBD', 'MultiModalRandomResize',
    'MultiModalRandomCrop', 'MultiModalRandomFlip', 'RandomHSV',
    'MultiModalNormalize', 'MultiModalPad', 'PackMultiModalSegInputs',
    'encode_depth'
]
