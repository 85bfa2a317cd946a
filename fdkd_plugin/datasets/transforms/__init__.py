"""Transforms of the audio-visual pipelines (registered in ``TRANSFORMS``)."""
from .audio import Spectrogram, stft_magnitude
from .formatting import PackMultiModalInputs
from .loading import LoadAudio, LoadFrames, LoadSpectrogram

__all__ = [
    'LoadAudio', 'LoadSpectrogram', 'LoadFrames', 'Spectrogram',
    'stft_magnitude', 'PackMultiModalInputs'
]
