"""Audio loading transforms of the audio-visual pipelines: wav and
precomputed spectrogram (the frames: :mod:`.frames`).

Both read the paths that :class:`~fdkd_plugin.datasets.BaseAVDataset` puts
into a data info (``'audio_path'``, ``'spec_path'``) and write numpy arrays
that :class:`PackMultiModalInputs` turns into tensors. Randomness (the audio
crop start) comes from ``np.random``, which MMEngine seeds per worker.
"""
import math
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform

from fdkd_plugin.registry import TRANSFORMS
from fdkd_plugin.utils.checkpoint import UnsafePickleError, load_numpy_pickle
from ..checks import WavTruncatedError, parse_wav_bytes, read_wav_header
from .declare import declares

__all__ = ['LoadAudio', 'LoadSpectrogram', 'clip_name']


def clip_name(results: dict) -> str:
    """The clip id of a sample, for error messages."""
    return repr(results.get('clip_id', '?'))


def _load_audio_random(args: dict) -> Optional[str]:
    """A random crop start when cropping outside ``test_mode``."""
    if args.get('random_crop', False) and not args.get('test_mode', False):
        return 'a random crop start (random_crop=True, test_mode=False)'
    return None


@TRANSFORMS.register_module()
@declares(writes=('audio', ), randomness=_load_audio_random)
class LoadAudio(BaseTransform):
    """Read a waveform, cut it to a fixed duration and clip it to [-1, 1].

    Steps, for the file ``results['audio_path']``:

    1. read it with soundfile (``backend='soundfile'``; a format soundfile
       cannot read is retried with torchaudio) or torchaudio, as float32
       (8-bit, 16-bit, 24-bit, 32-bit integer PCM scaled to [-1, 1), float
       WAV as stored); with ``backend='soundfile'`` a little-endian 16-bit
       PCM WAV is read whole and parsed in memory instead (the same values
       as soundfile's, ``int16 / 32768``, at a small part of its per-file
       cost).
       A damaged file raises ``ValueError`` naming it: a ``.wav`` cut short
       (its header declares more samples than it holds; decoders would
       return the rest silently), without samples, or holding NaN / inf
       samples;
    2. if ``results`` holds ``'audio_start'`` / ``'audio_end'`` (seconds),
       keep samples ``[round(start * sr), round(end * sr))`` of the file;
    3. downmix to mono (mean of the channels) when ``mono``;
    4. resample from the file's rate ``sr`` to ``sample_rate`` with
       ``torchaudio.functional.resample`` when they differ;
    5. with ``duration`` set, ``n = round(duration * sample_rate)``: a
       shorter clip is tiled until it has at least ``n`` samples
       (``np.tile``, so it repeats from its start: the field's protocol for
       CREMA-D and AVE, whose clips are often shorter than 3 / 10 s), or
       raises with ``short_clip='error'``; then exactly ``n`` samples are
       cropped, from sample 0, or from a uniform random start in
       ``[0, len - n]`` when ``random_crop`` and not ``test_mode``. (The
       audio-visual data sets count the short clips of their index at build
       and log the count, or raise there with ``short_clip='error'``);
    6. clip to [-1, 1] when ``clip``.

    Added keys: ``'audio'`` float32 ``(n, )`` (``(C, n)`` when not mono) and
    ``'sample_rate'`` (int).

    Args:
        sample_rate (int, optional): Output rate in Hz; None keeps the
            file's rate. Defaults to 22050.
        duration (float, optional): Output length in seconds; None keeps
            the whole (cut) signal. Defaults to 3.0.
        mono (bool): Downmix to one channel. Defaults to True.
        random_crop (bool): Random crop start in training. Defaults to False.
        clip (bool): Clip samples to [-1, 1]. Defaults to True.
        backend (str): ``'soundfile'`` (torchaudio as fallback) or
            ``'torchaudio'``. Defaults to ``'soundfile'``. torchaudio >= 2.9
            decodes through the ``torchcodec`` package: without it the
            torchaudio reader fails (its error is part of the message).
        test_mode (bool): Test pipeline: the crop starts at 0 even when
            ``random_crop``. Defaults to False.
        short_clip (str): What a clip shorter than ``duration`` gets:
            ``'tile'`` (repeated to length) or ``'error'`` (``ValueError``
            naming the file and its length). Defaults to ``'tile'``.
    """

    BACKENDS: Tuple[str, ...] = ('soundfile', 'torchaudio')
    SHORT_CLIP: Tuple[str, ...] = ('tile', 'error')

    def __init__(self,
                 sample_rate: Optional[int] = 22050,
                 duration: Optional[float] = 3.0,
                 mono: bool = True,
                 random_crop: bool = False,
                 clip: bool = True,
                 backend: str = 'soundfile',
                 test_mode: bool = False,
                 short_clip: str = 'tile') -> None:
        super().__init__()
        if short_clip not in self.SHORT_CLIP:
            raise ValueError(f'short_clip={short_clip!r} must be one of '
                             f'{self.SHORT_CLIP}')
        if sample_rate is not None and (int(sample_rate) != sample_rate
                                        or sample_rate <= 0):
            raise ValueError(f'sample_rate={sample_rate} must be a positive '
                             'integer or None')
        if duration is not None and not duration > 0:
            raise ValueError(f'duration={duration} must be > 0 or None')
        if backend not in self.BACKENDS:
            raise ValueError(
                f'backend={backend!r} must be one of {self.BACKENDS}')
        self.sample_rate = None if sample_rate is None else int(sample_rate)
        self.duration = None if duration is None else float(duration)
        self.mono = bool(mono)
        self.random_crop = bool(random_crop)
        self.clip = bool(clip)
        self.backend = backend
        self.test_mode = bool(test_mode)
        self.short_clip = short_clip

    @staticmethod
    def _read_pcm16_wav(path: str) -> Optional[Tuple[np.ndarray, int]]:
        """A little-endian 16-bit PCM WAV as soundfile reads it, or None
        for any other file (which then goes to soundfile, and reports its
        own error). The file is read whole and its header parsed in memory
        (:func:`~fdkd_plugin.datasets.checks.parse_wav_bytes`): about 20 us
        for a 1 s clip, where Python's ``wave`` module took 36 us.

        Raises:
            WavTruncatedError: The header declares more samples than the
                file holds (decoders would return the rest silently).
        """
        with open(path, 'rb') as f:
            data = f.read()
        try:
            head = parse_wav_bytes(data, path)
        except WavTruncatedError:
            raise
        except ValueError:  # not a plain WAV: soundfile says what it is
            return None
        if head.format_tag != 1 or head.bits != 16 or head.big_endian:
            return None
        channels = head.channels
        samples = np.frombuffer(
            data, dtype='<i2', count=head.frames * channels,
            offset=head.data_offset)
        # x / 2^15 is exact in float32: soundfile's float32 values
        wav = samples.reshape(-1, channels).T * np.float32(1 / 32768)
        return np.ascontiguousarray(wav), head.sample_rate  # (C, N) float32

    @staticmethod
    def _read_soundfile(path: str) -> Tuple[np.ndarray, int]:
        import soundfile
        data, sr = soundfile.read(path, dtype='float32', always_2d=True)
        return np.ascontiguousarray(data.T), int(sr)  # (C, N)

    @staticmethod
    def _read_torchaudio(path: str) -> Tuple[np.ndarray, int]:
        import torchaudio
        wav, sr = torchaudio.load(path)  # (C, N) float32
        return wav.numpy().astype(np.float32, copy=False), int(sr)

    def read(self, path: str) -> Tuple[np.ndarray, int]:
        """Read an audio file.

        Args:
            path (str): The audio file.

        Returns:
            tuple[np.ndarray, int]: ``(C, N)`` float32 samples and the
            file's sample rate.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: A ``.wav`` that is truncated, not a WAV or without
                samples, or samples that are NaN / inf (naming the file).
            OSError: No backend could decode it (the message names the file
                and each backend's error).
        """
        if not osp.isfile(path):
            raise FileNotFoundError(f'audio file {path} does not exist')
        readers = [('soundfile', self._read_soundfile),
                   ('torchaudio', self._read_torchaudio)]
        if self.backend == 'torchaudio':
            readers = readers[1:]
        else:
            fast = self._read_pcm16_wav(path)  # int16: always finite
            if fast is not None:
                return fast
        errors: List[str] = []
        for name, reader in readers:
            try:
                wav, sr = reader(path)
                break
            except Exception as err:  # noqa: BLE001  each backend's own type
                errors.append(f'{name}: {type(err).__name__}: {err}')
        else:
            raise OSError(f'cannot read audio file {path}: ' +
                          '; '.join(errors))
        if path.lower().endswith('.wav'):
            read_wav_header(path)  # decoders read a cut file silently
        bad = ~np.isfinite(wav)
        if bad.any():
            first = int(np.argmax(bad.any(axis=0)))
            raise ValueError(
                f'audio file {path} holds {int(bad.sum())} NaN / inf '
                f'samples (the first at sample {first}, {first / sr:.3f} s); '
                'write it again or remove its row from the index')
        return wav, sr

    def transform(self, results: dict) -> dict:
        """Load ``results['audio_path']`` into ``results['audio']``.

        Args:
            results (dict): Needs ``'audio_path'``; may hold
                ``'audio_start'`` / ``'audio_end'`` seconds.

        Returns:
            dict: ``results`` with ``'audio'`` and ``'sample_rate'``.
        """
        path = results.get('audio_path')
        if path is None:
            raise KeyError(f"LoadAudio: results of clip {clip_name(results)} "
                           "have no 'audio_path'")
        wav, sr = self.read(path)  # (C, N)
        if wav.size == 0:
            raise ValueError(f'audio file {path} has no samples')
        if 'audio_start' in results or 'audio_end' in results:
            start = float(results.get('audio_start', 0.0))
            end = float(results.get('audio_end', wav.shape[1] / sr))
            i0 = int(round(start * sr))
            i1 = min(int(round(end * sr)), wav.shape[1])
            if i0 < 0 or i1 <= i0:
                raise ValueError(
                    f'audio file {path}: span [{start}, {end}] s holds no '
                    f'samples of its {wav.shape[1] / sr:.3f} s')
            wav = wav[:, i0:i1]
        if self.mono and wav.shape[0] > 1:
            wav = wav.mean(axis=0, keepdims=True)
        out_sr = sr if self.sample_rate is None else self.sample_rate
        if out_sr != sr:
            import torchaudio.functional as AF
            wav = AF.resample(
                torch.from_numpy(np.ascontiguousarray(wav)), sr,
                out_sr).numpy()
        if self.duration is not None:
            n = int(round(self.duration * out_sr))
            length = wav.shape[1]
            if length < n:
                if self.short_clip == 'error':
                    raise ValueError(
                        f'audio file {path} gives {length / out_sr:.3f} s, '
                        f'shorter than duration={self.duration} s '
                        "(short_clip='error'); remove its row, lower "
                        "duration or set short_clip='tile'")
                wav = np.tile(wav, (1, math.ceil(n / length)))
            start = 0
            if self.random_crop and not self.test_mode:
                start = int(np.random.randint(0, wav.shape[1] - n + 1))
            wav = wav[:, start:start + n]
        if self.clip:  # in place: wav is this call's own array
            wav = np.clip(wav, -1.0, 1.0, out=wav)
        wav = np.ascontiguousarray(wav, dtype=np.float32)
        results['audio'] = wav[0] if self.mono else wav
        results['sample_rate'] = out_sr
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(sample_rate={self.sample_rate}, '
                f'duration={self.duration}, mono={self.mono}, '
                f'random_crop={self.random_crop}, clip={self.clip}, '
                f'backend={self.backend!r}, test_mode={self.test_mode}, '
                f'short_clip={self.short_clip!r})')


@TRANSFORMS.register_module()
@declares(writes=('audio', ))
class LoadSpectrogram(BaseTransform):
    """Load a precomputed spectrogram (pickle or ``.npy``) as ``(1, F, T)``.

    The file holds a 2-D array ``(F, T)`` (or ``(1, F, T)``); a ``.npy`` is
    read with ``np.load(allow_pickle=False)``, anything else as a pickle
    that may only rebuild numpy arrays
    (:func:`fdkd_plugin.utils.checkpoint.load_numpy_pickle`). With
    ``target_shape=(F', T')`` the map is resized bilinearly
    (``torch.nn.functional.interpolate``, ``align_corners=False``, the same
    sampling grid as ``cv2.resize`` with ``INTER_LINEAR``), e.g.
    AVE's 257 x 1004 to 257 x 1024.

    Added key: ``'audio'`` float32 ``(1, F, T)`` (or ``(1, F', T')``).

    Args:
        key (str): The results key holding the file path. Defaults to
            ``'spec_path'``.
        target_shape (tuple[int, int], optional): ``(F', T')`` to resize to.
            Defaults to None (no resize).
    """

    def __init__(self,
                 key: str = 'spec_path',
                 target_shape: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        if target_shape is not None:
            target_shape = tuple(target_shape)
            if len(target_shape) != 2 or any(
                    int(s) != s or s <= 0 for s in target_shape):
                raise ValueError(f'target_shape={target_shape} must be two '
                                 'positive integers (F, T)')
            target_shape = tuple(int(s) for s in target_shape)
        self.key = key
        self.target_shape = target_shape

    @staticmethod
    def read(path: str) -> np.ndarray:
        """Read a spectrogram file as a float32 ``(1, F, T)`` array.

        Args:
            path (str): A ``.npy`` or pickle file.

        Returns:
            np.ndarray: ``(1, F, T)`` float32.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            OSError: The file cannot be unpickled / loaded.
            UnsafePickleError: The pickle names a global other than numpy
                array reconstruction (it is not called).
            ValueError: Its array is not ``(F, T)`` / ``(1, F, T)``, or holds
                NaN / inf (naming the file and the shape).
        """
        if not osp.isfile(path):
            raise FileNotFoundError(f'spectrogram file {path} does not exist')
        try:
            if path.lower().endswith('.npy'):
                spec = np.load(path, allow_pickle=False)
            else:
                with open(path, 'rb') as f:
                    spec = load_numpy_pickle(f)
        except UnsafePickleError:
            raise  # names the file and the global already
        except Exception as err:  # noqa: BLE001  unpickling raises anything
            raise OSError(f'cannot read spectrogram file {path}: '
                          f'{type(err).__name__}: {err}') from err
        if isinstance(spec, torch.Tensor):
            spec = spec.numpy()
        spec = np.asarray(spec, dtype=np.float32)
        if spec.ndim == 2:
            spec = spec[None]
        if spec.ndim != 3 or spec.shape[0] != 1 or spec.size == 0:
            raise ValueError(f'spectrogram file {path} holds an array of '
                             f'shape {spec.shape}; expected (F, T) or '
                             '(1, F, T)')
        if not np.isfinite(spec).all():
            raise ValueError(f'spectrogram file {path} holds NaN or inf')
        return np.ascontiguousarray(spec)

    def transform(self, results: dict) -> dict:
        """Load ``results[key]`` into ``results['audio']``.

        Args:
            results (dict): Needs ``key``.

        Returns:
            dict: ``results`` with ``'audio'``.
        """
        path = results.get(self.key)
        if path is None:
            raise KeyError(f'LoadSpectrogram: results of clip '
                           f'{clip_name(results)} have no {self.key!r}')
        spec = self.read(path)  # (1, F, T)
        if self.target_shape is not None and \
                tuple(spec.shape[1:]) != self.target_shape:
            spec = F.interpolate(
                torch.from_numpy(spec)[None],  # (1, 1, F, T)
                size=self.target_shape,
                mode='bilinear',
                align_corners=False)[0].numpy()
        results['audio'] = np.ascontiguousarray(spec, dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(key={self.key!r}, '
                f'target_shape={self.target_shape})')
