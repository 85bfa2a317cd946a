"""Extract frames, 16 kHz audio and (optionally) spectrograms from AVE.

Input (the AVE download: 4143 ten-second videos and the split files)::

    ROOT/
    ├── AVE/<id>.mp4
    └── trainSet.txt valSet.txt testSet.txt   # Category&id&quality&start&end

Output (the layout of the C2KD / DI-MML AVE readers)::

    OUT/
    ├── Image-01-FPS-SE/<id>/frame_00000.jpg ...
    ├── AudioWAV/<id>.wav          # mono, 16-bit PCM, 16000 Hz
    └── AudioSpec/<id>.pkl         # with --spec: (257, 1004) float32

The spectrogram (``--spec``) follows DI-MML's preprocessing. With ``x`` the
WAV samples as floats (``int16 / 32768``) at ``sr`` = 16000 Hz:

.. code-block:: text

    x    = tile(x)[: 10 * sr]            # repeat the clip up to 10 s
    x    = clip(x, -1, 1)
    S    = scipy.signal.spectrogram(x, fs=sr, nperseg=512, noverlap=353)[2]
           # scipy defaults: Tukey(0.25) window, constant detrend, PSD scaling
    L    = log(S + 1e-7)
    spec = (L - mean(L)) / (std(L) + 1e-9)   # one mean/std over the whole clip

so ``spec`` has 512 // 2 + 1 = 257 frequency bins (31.25 Hz apart) and
``(160000 - 512) // 159 + 1 = 1004`` time steps (hop 159 samples, ~9.9 ms),
pickled as a float32 numpy array. One frame per second (slot ``k`` = the
frame nearest to ``k + 0.5`` s). Finished outputs are skipped, so an
interrupted run resumes.

Example::

    python tools/dataset_converters/ave.py --root data/AVE_Dataset --spec
"""
from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np

import _video

SPEC_SECONDS = 10.0
SPEC_NPERSEG = 512
SPEC_NOVERLAP = 353


def log_spectrogram(samples: np.ndarray,
                    sample_rate: int,
                    seconds: float = SPEC_SECONDS) -> np.ndarray:
    """DI-MML log spectrogram, z-scored per clip (formula: module docstring).

    Args:
        samples (np.ndarray): (T,) int16 samples, or floats in [-1, 1].
        sample_rate (int): Hz.
        seconds (float): the clip is tiled/cut to this length. Defaults to 10.

    Returns:
        np.ndarray: (257, n_steps) float32; n_steps = 1004 for 10 s at 16 kHz.
    """
    from scipy import signal  # noqa: PLC0415

    x = np.asarray(samples)
    if x.dtype == np.int16:
        x = x.astype(np.float64) / 32768.0
    x = x.astype(np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError('cannot compute a spectrogram of an empty signal')
    n = int(round(seconds * sample_rate))
    x = np.tile(x, int(np.ceil(n / x.size)))[:n]
    x = np.clip(x, -1.0, 1.0)
    _, _, spec = signal.spectrogram(
        x, fs=sample_rate, nperseg=SPEC_NPERSEG,
        noverlap=SPEC_NOVERLAP)  # (257, T')
    spec = np.log(spec + 1e-7)
    spec = (spec - spec.mean()) / (spec.std() + 1e-9)
    return spec.astype(np.float32)


def build_jobs(root: Path, out: Path) -> List[_video.VideoJob]:
    """One frames + audio job per ``AVE/<id>.mp4``.

    Args:
        root (Path): the AVE folder.
        out (Path): where the outputs go.

    Returns:
        List[_video.VideoJob]: sorted by id.
    """
    videos = _video.find_videos(root / 'AVE', '.mp4')
    return [
        _video.VideoJob(
            v,
            frames_dir=out / 'Image-01-FPS-SE' / v.stem,
            wav_path=out / 'AudioWAV' / f'{v.stem}.wav') for v in videos
    ]


def write_spectrograms(jobs: List[_video.VideoJob],
                       out: Path,
                       overwrite: bool = False) -> _video.Summary:
    """Write ``AudioSpec/<id>.pkl`` for each job whose WAV exists.

    Args:
        jobs (List[_video.VideoJob]): jobs from :func:`build_jobs`.
        out (Path): the output folder.
        overwrite (bool): redo existing pickles. Defaults to False.

    Returns:
        _video.Summary: counts; a job without its WAV counts as failed.
    """
    summary = _video.Summary()
    todo = []
    for job in jobs:
        pkl = out / 'AudioSpec' / f'{job.video.stem}.pkl'
        if pkl.is_file() and not overwrite:
            summary.skipped += 1
        elif not job.wav_path.is_file():
            summary.failed.append((job.wav_path, 'no WAV to compute the '
                                   'spectrogram from'))
        else:
            todo.append((job.wav_path, pkl))
    for wav, pkl in _video.progress(
            todo, f'{len(todo)} spectrogram(s) to '
            'compute'):
        samples, rate = _video.read_wav(wav)
        spec = log_spectrogram(samples, rate)
        _video.atomic_write_bytes(pkl, pickle.dumps(spec, protocol=4))
        summary.converted += 1
    return summary


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='AVE: AVE/*.mp4 -> Image-01-FPS-SE/<id>/*.jpg, '
        'AudioWAV/<id>.wav (16 kHz mono) and, with --spec, '
        'AudioSpec/<id>.pkl')
    parser.add_argument(
        '--root',
        type=Path,
        default=Path('data/AVE_Dataset'),
        help='AVE folder holding AVE/ '
        '(default: data/AVE_Dataset)')
    parser.add_argument(
        '--out',
        type=Path,
        default=None,
        help='output folder (default: --root)')
    parser.add_argument(
        '--sample-rate',
        type=int,
        default=16000,
        help='WAV sample rate in Hz (default: 16000)')
    parser.add_argument(
        '--spec',
        action='store_true',
        help='also write AudioSpec/<id>.pkl log spectrograms '
        '(257 x 1004 at 16 kHz)')
    _video.add_common_args(parser)
    args = parser.parse_args(argv)
    _video.check_common_args(parser, args)
    if args.sample_rate <= 0:
        parser.error(f'--sample-rate {args.sample_rate} must be > 0')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Run the conversion; returns 0, or 1 when some videos failed."""
    args = parse_args(argv)
    out = args.out if args.out is not None else args.root
    try:
        jobs = build_jobs(args.root, out)
        summary = _video.run_jobs(
            jobs,
            fps=args.fps,
            sample_rate=args.sample_rate,
            quality=args.jpeg_quality,
            overwrite=args.overwrite)
        summary.report()
        failed = len(summary.failed)
        if args.spec:
            spec_summary = write_spectrograms(jobs, out, args.overwrite)
            print('spectrograms: ', end='')
            spec_summary.report()
            failed += len(spec_summary.failed)
    except _video.ConversionError as exc:
        raise SystemExit(f'ave.py: error: {exc}') from exc
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
