"""Transforms of the paired pipelines (registered in ``TRANSFORMS``):
loaders (:mod:`.loading` audio, :mod:`.frames`, :mod:`.rgbd`, :mod:`.text`),
the audio front end (:mod:`.audio`), the paired geometry
(:mod:`.geometry`) and the packer (:mod:`.formatting`)."""
from .audio import Spectrogram, stft_magnitude
from .formatting import PackMultiModalInputs
from .frames import LoadFrames
from .geometry import (MultiModalRandomCrop, MultiModalRandomFlip,
                       MultiModalRandomResize, MultiModalRandomResizedCrop,
                       MultiModalResize)
from .loading import LoadAudio, LoadSpectrogram
from .rgbd import (LoadRGBD, MultiModalNormalize, MultiModalPad,
                   PackMultiModalSegInputs, RandomHSV, encode_depth)
from .text import TokenizeText, normalize_tweet

__all__ = [
    'LoadAudio', 'LoadSpectrogram', 'LoadFrames', 'Spectrogram',
    'stft_magnitude', 'PackMultiModalInputs', 'TokenizeText',
    'normalize_tweet', 'LoadRGBD', 'MultiModalResize',
    'MultiModalRandomResize', 'MultiModalRandomCrop',
    'MultiModalRandomResizedCrop', 'MultiModalRandomFlip', 'RandomHSV',
    'encode_depth', 'MultiModalNormalize', 'MultiModalPad',
    'PackMultiModalSegInputs'
]
