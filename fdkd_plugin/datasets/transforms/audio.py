"""The STFT magnitude spectrogram of a waveform, computed with torch."""
import functools
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform

from fdkd_plugin.registry import TRANSFORMS
from .declare import declares

__all__ = ['Spectrogram', 'stft_magnitude']

_WINDOWS: Dict[str, Callable[..., torch.Tensor]] = {
    'hann': torch.hann_window,
    'hamming': torch.hamming_window,
    'blackman': torch.blackman_window,
    'boxcar': lambda n, periodic=True, dtype=None: torch.ones(n, dtype=dtype),
}
_PAD_MODES: Tuple[str, ...] = ('constant', 'reflect', 'replicate', 'circular')


#: the STFT's precision: float64 matches librosa to ~1e-6 of the z-scored
#: log spectrogram; float32 is 1.5-2x faster (docs/benchmarks.md) with an
#: error bounded as stated in :class:`Spectrogram`
PRECISIONS: Dict[str, torch.dtype] = {
    'float64': torch.float64,
    'float32': torch.float32,
}
_NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}


@functools.lru_cache(maxsize=16)
def _window(window: str, win_length: int, n_fft: int,
            dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The periodic window of ``win_length`` samples zero-padded on both
    sides to ``n_fft`` (the left pad ``(n_fft - win_length) // 2``, as
    ``torch.stft`` and librosa place it), built once per arguments;
    read-only."""
    win = _WINDOWS[window](win_length, periodic=True, dtype=dtype)
    left = (n_fft - win_length) // 2
    return F.pad(win, (left, n_fft - win_length - left))


def _signal(wav: np.ndarray, dtype: torch.dtype, pad: int,
            pad_mode: str) -> torch.Tensor:
    """``(N, )`` or ``(C, N)`` samples as a ``dtype`` tensor, with ``pad``
    samples added on both sides of the last axis as
    ``torch.stft(center=True)`` adds them (none when ``pad`` is 0). Zero
    padding is written by numpy, cast included: torch's slice assignment
    cost 30 us per 1 s clip, numpy's 5."""
    wav = np.asarray(wav)
    if pad == 0:
        return torch.as_tensor(wav, dtype=dtype)
    if pad_mode == 'constant':
        out = np.zeros(wav.shape[:-1] + (wav.shape[-1] + 2 * pad, ),
                       dtype=_NUMPY_DTYPES[dtype])
        out[..., pad:pad + wav.shape[-1]] = wav
        return torch.from_numpy(out)
    # reflect / replicate / circular pad a (batch, channel, N) tensor
    x = torch.as_tensor(wav, dtype=dtype)
    return F.pad(x.reshape(1, -1, x.shape[-1]), (pad, pad),
                 pad_mode).reshape(x.shape[:-1] + (-1, ))


def stft_magnitude(wav: np.ndarray,
                   n_fft: int = 512,
                   hop_length: int = 353,
                   win_length: Optional[int] = None,
                   window: str = 'hann',
                   center: bool = True,
                   pad_mode: str = 'constant',
                   precision: str = 'float64') -> np.ndarray:
    """``|STFT(x)|`` of one or several waveforms, in float64 (or float32).

    ``S[f, t] = |sum_m w[m] x[t * hop + m - c] exp(-2 pi i f m / n_fft)|``
    with ``c = n_fft // 2`` when ``center`` (the signal is padded by ``c``
    on both sides with ``pad_mode``) else 0, and the periodic window ``w`` of
    ``win_length`` samples zero-padded on both sides to ``n_fft``. This is
    ``np.abs(librosa.stft(x, n_fft, hop_length, win_length, window, center,
    pad_mode))``; librosa's ``pad_mode`` default is ``'constant'`` (zeros)
    since librosa 0.10 (``'reflect'`` before).

    The frames are a strided view of the (padded) signal, windowed and
    transformed by one batched real FFT: the arithmetic of ``torch.stft``
    (same frames, window and FFT) without its per-call set-up, which on a
    1 s clip took most of the time (145 against 30 us, one thread).

    Args:
        wav (np.ndarray): ``(N, )`` or ``(C, N)`` samples.
        n_fft (int): FFT size. Defaults to 512.
        hop_length (int): Samples between frames. Defaults to 353.
        win_length (int, optional): Window length <= n_fft. Defaults to
            None (= n_fft).
        window (str): ``'hann'``, ``'hamming'``, ``'blackman'`` or
            ``'boxcar'`` (periodic). Defaults to ``'hann'``.
        center (bool): Centre frames on ``t * hop``. Defaults to True.
        pad_mode (str): Padding when ``center``. Defaults to ``'constant'``.
        precision (str): ``'float64'`` or ``'float32'``: the dtype of the
            signal, the window and the FFT. Defaults to ``'float64'``.

    Returns:
        np.ndarray: ``(F, T)`` (``(C, F, T)`` for ``(C, N)`` input) of the
        ``precision`` dtype, C-contiguous,
        ``F = n_fft // 2 + 1``, ``T = 1 + N // hop`` when ``center`` else
        ``1 + (N - n_fft) // hop``.
    """
    win_length = n_fft if win_length is None else win_length
    dtype = PRECISIONS[precision]
    x = _signal(wav, dtype, n_fft // 2 if center else 0, pad_mode)
    if x.shape[-1] < n_fft:
        raise ValueError(f'stft_magnitude: {x.shape[-1]} samples (after '
                         f'padding) are fewer than n_fft={n_fft}')
    frames = x.unfold(-1, n_fft, hop_length)  # (..., T, n_fft), a view
    # float64 keeps log(|S| + eps) exact where |S| is small
    spec = torch.fft.rfft(frames * _window(window, win_length, n_fft, dtype))
    # numpy's complex abs is several times faster than torch's on CPU;
    # (..., T, F) -> (..., F, T)
    return np.ascontiguousarray(np.abs(spec.numpy()).swapaxes(-1, -2))


@TRANSFORMS.register_module()
@declares(writes=('audio', ))
class Spectrogram(BaseTransform):
    """Turn ``results['audio']`` (a waveform) into a log-magnitude spectrogram.

    ``S = |STFT(x)|`` (see :func:`stft_magnitude`; with the defaults,
    ``np.abs(librosa.stft(x, n_fft=512, hop_length=353))``), then
    ``log(S + eps)`` when ``log``, then optionally normalized:

    - ``'zscore'``: ``(S - S.mean()) / (S.std() + eps)`` over the whole
      spectrogram of the clip;
    - ``'mean_std'``: ``(S - mean) / std`` with the given data-set
      statistics.

    A 3 s clip at 22050 Hz (66150 samples) gives ``(1, 257, 188)``. The
    paper's 257 x 299 (CREMA-D) and 257 x 1004 (AVE, VGGSound) come from
    ``nperseg=512, noverlap=353`` at 16 kHz, i.e. ``hop_length=159,
    center=False`` over 3 s / 10 s.

    Replaces ``'audio'`` with float32 ``(1, F, T)``, ``F = n_fft // 2 + 1``
    (``(C, F, T)`` for a ``(C, N)`` waveform).

    Args:
        n_fft (int): FFT size. Defaults to 512.
        hop_length (int): Samples between frames. Defaults to 353.
        win_length (int, optional): Window length, <= n_fft. Defaults to
            None (= n_fft).
        window (str): ``'hann'``, ``'hamming'``, ``'blackman'``, ``'boxcar'``.
            Defaults to ``'hann'``.
        center (bool): Pad ``n_fft // 2`` on both sides. Defaults to True.
        pad_mode (str): ``'constant'`` (zeros, librosa's default),
            ``'reflect'``, ``'replicate'`` or ``'circular'``. Defaults to
            ``'constant'``.
        eps (float): Added before the log, and to the std of ``'zscore'``.
            Defaults to 1e-7.
        log (bool): Take ``log(S + eps)``. Defaults to True.
        normalize (str, optional): None, ``'zscore'`` or ``'mean_std'``.
            Defaults to None.
        mean (float, optional): Mean for ``'mean_std'`` (required there).
        std (float, optional): Std for ``'mean_std'`` (required, > 0).
        precision (str): ``'float64'`` (librosa's numbers to ~1e-6) or
            ``'float32'``: the STFT, log and normalization in float32,
            1.5-2x faster on 1-3 s clips. Bound (tested on generated
            AV-digits clips): over the bins within 80 dB of the clip's
            peak, the L2 error of ``log(S + eps)`` is at most 1e-4 of the
            L2 norm of the centred float64 log spectrogram (measured:
            <= 4e-6); bins more than 80 dB down hold float32 rounding
            noise of the FFT. Defaults to ``'float64'``.
    """

    NORMALIZE: Tuple[Optional[str], ...] = (None, 'zscore', 'mean_std')

    def __init__(self,
                 n_fft: int = 512,
                 hop_length: int = 353,
                 win_length: Optional[int] = None,
                 window: str = 'hann',
                 center: bool = True,
                 pad_mode: str = 'constant',
                 eps: float = 1e-7,
                 log: bool = True,
                 normalize: Optional[str] = None,
                 mean: Optional[float] = None,
                 std: Optional[float] = None,
                 precision: str = 'float64') -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f'precision={precision!r} must be one of '
                             f'{tuple(PRECISIONS)}')
        for name, val in (('n_fft', n_fft), ('hop_length', hop_length)):
            if int(val) != val or val <= 0:
                raise ValueError(f'{name}={val} must be a positive integer')
        if win_length is not None and (int(win_length) != win_length
                                       or not 0 < win_length <= n_fft):
            raise ValueError(
                f'win_length={win_length} must be in [1, n_fft={n_fft}]')
        if window not in _WINDOWS:
            raise ValueError(
                f'window={window!r} must be one of {tuple(_WINDOWS)}')
        if pad_mode not in _PAD_MODES:
            raise ValueError(
                f'pad_mode={pad_mode!r} must be one of {_PAD_MODES}')
        if not eps >= 0:
            raise ValueError(f'eps={eps} must be >= 0')
        if normalize not in self.NORMALIZE:
            raise ValueError(
                f'normalize={normalize!r} must be one of {self.NORMALIZE}')
        if normalize == 'mean_std':
            if mean is None or std is None or not std > 0:
                raise ValueError(f"normalize='mean_std' needs mean and std > "
                                 f'0, got mean={mean}, std={std}')
        elif mean is not None or std is not None:
            raise ValueError(f'mean={mean} / std={std} are only used with '
                             f"normalize='mean_std', not {normalize!r}")
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.win_length = None if win_length is None else int(win_length)
        self.window = window
        self.center = bool(center)
        self.pad_mode = pad_mode
        self.eps = float(eps)
        self.log = bool(log)
        self.normalize = normalize
        self.mean = None if mean is None else float(mean)
        self.std = None if std is None else float(std)
        self.precision = precision

    def transform(self, results: dict) -> dict:
        """Replace the waveform ``results['audio']`` by its spectrogram.

        Args:
            results (dict): ``'audio'``: ``(N, )`` or ``(C, N)`` samples.

        Returns:
            dict: ``results`` with ``'audio'`` float32 ``(C, F, T)``.
        """
        if 'audio' not in results:
            raise KeyError("Spectrogram: results of clip "
                           f"{results.get('clip_id', '?')!r} have no 'audio'")
        wav = np.asarray(results['audio'])
        if wav.ndim not in (1, 2):
            raise ValueError(f"Spectrogram: 'audio' of clip "
                             f"{results.get('clip_id', '?')!r} has shape "
                             f'{wav.shape}; expected (N, ) or (C, N)')
        need = self.n_fft if not self.center else 1
        if wav.shape[-1] < need:
            raise ValueError(f"Spectrogram: 'audio' of clip "
                             f"{results.get('clip_id', '?')!r} has "
                             f'{wav.shape[-1]} samples, fewer than {need}')
        spec = stft_magnitude(wav, self.n_fft, self.hop_length,
                              self.win_length, self.window, self.center,
                              self.pad_mode, self.precision)
        # (F, T) or (C, F, T) of the precision's dtype
        # in place on the fresh array; the same operations, in the
        # same order, as log(S + eps) and (S - S.mean()) / (S.std() + eps)
        if self.log:
            spec += spec.dtype.type(self.eps)
            np.log(spec, out=spec)
        if self.normalize == 'zscore':
            # np.mean's own sum and division without its Python wrapper
            # (about 10 us a call on a 1 s clip): the same bits
            spec -= np.add.reduce(spec, axis=None) / spec.size
            std = np.sqrt(np.add.reduce(spec * spec, axis=None) /
                          spec.size)  # = np.std of the input
            spec /= std + spec.dtype.type(self.eps)
        elif self.normalize == 'mean_std':
            spec = (spec - spec.dtype.type(self.mean)) / spec.dtype.type(
                self.std)
        if spec.ndim == 2:
            spec = spec[None]  # (1, F, T)
        results['audio'] = np.ascontiguousarray(spec, dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(n_fft={self.n_fft}, '
                f'hop_length={self.hop_length}, win_length={self.win_length},'
                f' window={self.window!r}, center={self.center}, '
                f'pad_mode={self.pad_mode!r}, eps={self.eps}, log={self.log}, '
                f'normalize={self.normalize!r}, mean={self.mean}, '
                f'std={self.std}, precision={self.precision!r})')
