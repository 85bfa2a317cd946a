"""Audio-visual data sets and transforms (fills DATASETS / TRANSFORMS)."""
from . import transforms  # noqa: F401  registers the transforms
from .avdigits import AVDigitsDataset
from .ave import AVE_CLASSES, AVEDataset
from .base_av_dataset import BaseAVDataset
from .crema_d import CremaDDataset
from .transforms import (LoadAudio, LoadFrames, LoadSpectrogram,
                         PackMultiModalInputs, Spectrogram)
from .vggsound import VGGSoundDataset

__all__ = [
    'BaseAVDataset', 'CremaDDataset', 'AVDigitsDataset', 'AVEDataset',
    'AVE_CLASSES', 'VGGSoundDataset', 'LoadAudio', 'LoadSpectrogram',
    'LoadFrames', 'Spectrogram', 'PackMultiModalInputs'
]
