"""Audio-visual data sets and transforms (fills DATASETS / TRANSFORMS)."""
from . import transforms  # noqa: F401  registers the transforms
from .avdigits import AVDigitsDataset
from .ave import AVE_CLASSES, AVEDataset
from .base_av_dataset import BaseAVDataset
from .crema_d import CremaDDataset
from .crisismmd import CRISISMMD_CLASSES, CrisisMMDDataset
from .nyu_depth_v2 import NYU40_CLASSES, NYUDepthV2Dataset
from .transforms import (LoadAudio, LoadFrames, LoadSpectrogram,
                         PackMultiModalInputs, Spectrogram, TokenizeText)
from .vggsound import VGGSoundDataset

__all__ = [
    'BaseAVDataset', 'CremaDDataset', 'AVDigitsDataset', 'AVEDataset',
    'AVE_CLASSES', 'VGGSoundDataset', 'LoadAudio', 'LoadSpectrogram',
    'LoadFrames', 'Spectrogram', 'PackMultiModalInputs', 'CrisisMMDDataset',
    'CRISISMMD_CLASSES', 'TokenizeText', 'NYUDepthV2Dataset', 'NYU40_CLASSES'
]
