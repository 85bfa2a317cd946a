"""Shared decode / extract / write code of the data set converters.

The converters (``crema_d.py``, ``ave.py``, ``vggsound.py``) only know their
own folder layouts; everything that touches a video file, a WAV file or a
JPEG lives here:

* :func:`require_av` imports the decoder (PyAV, the ``av`` package: it reads
  both the frames and the audio track, with FFmpeg's own libraries inside
  the wheel) or fails with a message that names the package to install.
* :func:`extract_frames` samples a video at ``fps`` frames per second and
  writes ``frame_00000.jpg``, ``frame_00001.jpg``, ... into one folder.
* :func:`extract_audio` decodes the audio track, down-mixes it to mono,
  resamples it and writes a 16-bit PCM WAV file.
* :func:`run_jobs` drives a list of :class:`VideoJob` with a progress bar,
  skips outputs that already exist (resume) and collects failures.

Every output is written atomically: a file goes to a temporary name beside
its target and is moved in place with :func:`os.replace`; a frame folder is
filled under a temporary name and renamed when complete. An interrupted run
therefore leaves either a finished output or none, and the next run redoes
only what is missing.

The converter scripts import it as ``import _video`` (a script's own folder
is ``sys.path[0]``; the ``tools`` folder is not a package).
"""
from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import numpy as np

#: The PyAV release that was tested with these converters (CPython 3.11).
AV_REQUIREMENT = 'av==18.1.0'

#: File name pattern of the extracted frames (CREMA-D / AVE / VGGSound).
FRAME_NAME = 'frame_{:05d}.jpg'


class ConversionError(RuntimeError):
    """A converter cannot go on; the message names the file and the value."""


class DecoderMissingError(ConversionError):
    """The video decoder package is not importable."""


# --------------------------------------------------------------------------
# Imports with clear errors
# --------------------------------------------------------------------------
def require_av() -> ModuleType:
    """Import PyAV or raise a :class:`DecoderMissingError` naming the package.

    Returns:
        ModuleType: the ``av`` module.

    Raises:
        DecoderMissingError: when ``import av`` fails.
    """
    try:
        import av  # noqa: PLC0415 (optional dependency, imported on demand)
    except ImportError as exc:  # includes sys.modules['av'] = None
        raise DecoderMissingError(
            'decoding videos needs PyAV (the Python package `av`, which ships '
            'FFmpeg inside its wheel), but `import av` failed '
            f'({exc}). Install it with: pip install "{AV_REQUIREMENT}"'
        ) from exc
    return av


def require_cv2() -> ModuleType:
    """Import OpenCV (JPEG encoding) or raise a clear :class:`ConversionError`.

    Returns:
        ModuleType: the ``cv2`` module.
    """
    try:
        import cv2  # noqa: PLC0415
    except ImportError as exc:
        raise ConversionError(
            'writing JPEG frames needs OpenCV, but `import cv2` failed '
            f'({exc}). Install it with: pip install opencv-python') from exc
    return cv2


# --------------------------------------------------------------------------
# Atomic writes and file formats
# --------------------------------------------------------------------------
def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``.

    Args:
        path (Path): the target file; its folder is created if missing.
        data (bytes): the whole content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Encode mono 16-bit PCM samples as the bytes of a WAV file.

    Args:
        samples (np.ndarray): (T,) int16 samples, or float samples in
            [-1, 1] that are scaled by 32767 and rounded.
        sample_rate (int): samples per second.

    Returns:
        bytes: a RIFF/WAVE file, 1 channel, 16 bits, ``sample_rate`` Hz.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(
            f'samples must be 1-D (mono), got shape {samples.shape}')
    if samples.dtype != np.int16:
        samples = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype(
            np.int16)
    buf = io.BytesIO()
    with wave.open(buf, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(samples.astype('<i2').tobytes())
    return buf.getvalue()


def read_wav(path: Path) -> Tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV file.

    Args:
        path (Path): the file.

    Returns:
        tuple: ``(samples, sample_rate)``; samples (T,) int16 for mono or
        (T, C) int16 for C channels.
    """
    try:
        with wave.open(str(path), 'rb') as w:
            channels, width = w.getnchannels(), w.getsampwidth()
            rate, n = w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as exc:
        raise ConversionError(
            f'{path}: not a readable WAV file ({exc})') from exc
    if width != 2:
        raise ConversionError(
            f'{path}: sample width {width} bytes, expected 2 '
            '(16-bit PCM)')
    data = np.frombuffer(raw, dtype='<i2').astype(np.int16)
    if channels > 1:
        data = data.reshape(-1, channels)
    return data, rate


def encode_jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    """Encode an RGB image as JPEG bytes (deterministic for equal input).

    Args:
        rgb (np.ndarray): (H, W, 3) uint8, RGB order.
        quality (int): JPEG quality 1..100. Defaults to 95.

    Returns:
        bytes: the JPEG file.
    """
    cv2 = require_cv2()
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'expected (H, W, 3) uint8 RGB, got {rgb.shape} '
                         f'{rgb.dtype}')
    ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(rgb[:, :, ::-1]),
                           [int(cv2.IMWRITE_JPEG_QUALITY),
                            int(quality)])
    if not ok:
        raise ConversionError(f'JPEG encoding failed for an image {rgb.shape}')
    return buf.tobytes()


def write_frame_dir(out_dir: Path,
                    frames: Iterable[np.ndarray],
                    quality: int = 95,
                    name_fmt: str = FRAME_NAME) -> int:
    """Write RGB frames as JPEGs into a folder that appears only when complete.

    The frames go into ``.<name>.tmp-*`` beside ``out_dir``, which is then
    renamed to ``out_dir`` (an existing ``out_dir`` is replaced).

    Args:
        out_dir (Path): the final folder.
        frames (Iterable[np.ndarray]): (H, W, 3) uint8 RGB frames, in order.
        quality (int): JPEG quality. Defaults to 95.
        name_fmt (str): file name pattern with one index field.

    Returns:
        int: the number of frames written.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(
        tempfile.mkdtemp(prefix=f'.{out_dir.name}.tmp-', dir=out_dir.parent))
    try:
        n = 0
        for n, rgb in enumerate(frames, start=1):
            (tmp / name_fmt.format(n - 1)).write_bytes(
                encode_jpeg(rgb, quality))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return n


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------
def sample_times(duration: float, fps: float) -> np.ndarray:
    """Times (s) at which frames are taken: the middle of each 1/fps slot.

    ``n = max(1, round(duration * fps))`` slots; slot ``k`` is represented by
    the decoded frame nearest to ``(k + 0.5) / fps``. A 3 s video at 1 fps
    gives the frames nearest to 0.5 s, 1.5 s and 2.5 s.

    Args:
        duration (float): video duration in seconds (> 0).
        fps (float): frames per second to keep (> 0).

    Returns:
        np.ndarray: (n,) float64 times in seconds.
    """
    if fps <= 0:
        raise ValueError(f'fps={fps} must be > 0')
    n = max(1, int(np.floor(duration * fps + 0.5)))
    return (np.arange(n) + 0.5) / fps


def _video_duration(container, stream, path: Path) -> float:
    """Duration (s) of a video stream from its metadata, else by decoding."""
    if stream.duration is not None and stream.time_base is not None:
        d = float(stream.duration * stream.time_base)
        if d > 0:
            return d
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000.0  # av.time_base = 1e6
    # No metadata (e.g. a raw stream): decode once to find the last frame.
    last, step = None, None
    for frame in container.decode(stream):
        last = frame.time
    container.seek(0)
    if stream.average_rate:
        step = 1.0 / float(stream.average_rate)
    if last is None:
        raise ConversionError(f'{path}: the video stream has no frames')
    return last + (step or 0.0)


def extract_frames(video: Path,
                   out_dir: Path,
                   fps: float = 1.0,
                   quality: int = 95) -> int:
    """Sample ``fps`` frames per second of ``video`` into ``out_dir``.

    See :func:`sample_times` for which frames are chosen. The frames keep the
    video's size and are named ``frame_00000.jpg``, ``frame_00001.jpg``, ...

    Args:
        video (Path): any container/codec FFmpeg reads (flv, mp4, ...).
        out_dir (Path): the frame folder, written atomically.
        fps (float): frames per second. Defaults to 1.
        quality (int): JPEG quality. Defaults to 95.

    Returns:
        int: the number of frames written.
    """
    av = require_av()
    try:
        container = av.open(str(video))
    except av.FFmpegError as exc:
        raise ConversionError(f'{video}: cannot open ({exc})') from exc
    with container:
        if not container.streams.video:
            raise ConversionError(f'{video}: has no video stream')
        stream = container.streams.video[0]
        targets = sample_times(_video_duration(container, stream, video), fps)

        def selected() -> Iterable[np.ndarray]:
            k, prev = 0, None
            rate = float(stream.average_rate) if stream.average_rate else 25.0
            try:
                for i, frame in enumerate(container.decode(stream)):
                    t = frame.time if frame.time is not None else i / rate
                    while k < len(targets) and t >= targets[k]:
                        # nearest of the frame just before and this one
                        use = frame
                        if prev is not None and \
                                targets[k] - prev[0] <= t - targets[k]:
                            use = prev[1]
                        yield use.to_ndarray(format='rgb24')
                        k += 1
                    prev = (t, frame)
            except av.FFmpegError as exc:
                raise ConversionError(f'{video}: decoding failed ({exc})') \
                    from exc
            if prev is None:
                raise ConversionError(
                    f'{video}: the video stream has no frames')
            # targets after the last decoded frame (metadata slightly long)
            while k < len(targets) and targets[k] - prev[0] < 1.0 / fps:
                yield prev[1].to_ndarray(format='rgb24')
                k += 1

        return write_frame_dir(out_dir, selected(), quality)


def decode_audio(video: Path, sample_rate: int = 16000) -> np.ndarray:
    """Decode the first audio track of ``video`` as mono int16 samples.

    Channels are down-mixed and the signal is resampled to ``sample_rate``
    by FFmpeg's resampler (libswresample).

    Args:
        video (Path): a media file with an audio stream.
        sample_rate (int): output rate in Hz. Defaults to 16000.

    Returns:
        np.ndarray: (T,) int16 samples.
    """
    av = require_av()
    try:
        container = av.open(str(video))
    except av.FFmpegError as exc:
        raise ConversionError(f'{video}: cannot open ({exc})') from exc
    chunks: List[np.ndarray] = []
    with container:
        if not container.streams.audio:
            raise ConversionError(f'{video}: has no audio stream')
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(
            format='s16', layout='mono', rate=int(sample_rate))

        def keep(frames) -> None:
            for out in frames:
                chunks.append(out.to_ndarray().reshape(-1))

        try:
            for frame in container.decode(stream):
                keep(resampler.resample(frame))
            keep(resampler.resample(None))  # flush
        except av.FFmpegError as exc:
            raise ConversionError(f'{video}: decoding audio failed ({exc})') \
                from exc
    if not chunks:
        raise ConversionError(f'{video}: the audio stream has no samples')
    return np.concatenate(chunks).astype(np.int16)


def extract_audio(video: Path,
                  wav_path: Path,
                  sample_rate: int = 16000) -> int:
    """Write the audio track of ``video`` as a mono 16-bit WAV file.

    Args:
        video (Path): a media file with an audio stream.
        wav_path (Path): the WAV file, written atomically.
        sample_rate (int): output rate in Hz. Defaults to 16000.

    Returns:
        int: the number of samples written.
    """
    samples = decode_audio(video, sample_rate)
    atomic_write_bytes(wav_path, encode_wav(samples, sample_rate))
    return int(samples.size)


# --------------------------------------------------------------------------
# The job driver
# --------------------------------------------------------------------------
@dataclass
class VideoJob:
    """What to extract from one video.

    Args:
        video (Path): the input video.
        frames_dir (Path, optional): where the frames go; None: no frames.
        wav_path (Path, optional): where the audio goes; None: no audio.
    """

    video: Path
    frames_dir: Optional[Path] = None
    wav_path: Optional[Path] = None

    def todo(self, overwrite: bool = False) -> Tuple[bool, bool]:
        """Whether the frames and the audio still have to be written."""
        frames = self.frames_dir is not None and \
            (overwrite or not self.frames_dir.is_dir())
        audio = self.wav_path is not None and \
            (overwrite or not self.wav_path.is_file())
        return frames, audio


@dataclass
class Summary:
    """Counts of one converter run."""

    converted: int = 0
    skipped: int = 0
    failed: List[Tuple[Path, str]] = field(default_factory=list)

    def report(self, file=None) -> None:
        """Print the counts and each failure (file and reason)."""
        file = sys.stdout if file is None else file
        print(
            f'converted {self.converted}, skipped (already done) '
            f'{self.skipped}, failed {len(self.failed)}',
            file=file)
        for path, msg in self.failed:
            # the messages of ConversionError already start with the file
            text = msg if msg.startswith(str(path)) else f'{path}: {msg}'
            print(f'  FAILED {text}', file=file)


def progress(tasks: Sequence, desc: str) -> Iterable:
    """Iterate ``tasks`` with MMEngine's progress bar (plain loop if empty)."""
    if not tasks:
        return iter(())
    from mmengine.utils import track_iter_progress  # noqa: PLC0415
    print(desc, flush=True)
    # pass the stream now: mmengine's default is bound at its import time
    return track_iter_progress(list(tasks), file=sys.stdout)


def run_jobs(jobs: Sequence[VideoJob],
             fps: float = 1.0,
             sample_rate: int = 16000,
             quality: int = 95,
             overwrite: bool = False,
             after: Optional[Callable[[VideoJob], None]] = None) -> Summary:
    """Extract frames and audio for each job; skip finished outputs.

    A job whose outputs all exist is skipped without opening its video (so a
    second run does no work). A video that fails to decode is recorded in
    :attr:`Summary.failed` and the run goes on; a missing decoder stops it.

    Args:
        jobs (Sequence[VideoJob]): the work.
        fps (float): frames per second to keep. Defaults to 1.
        sample_rate (int): WAV sample rate in Hz. Defaults to 16000.
        quality (int): JPEG quality. Defaults to 95.
        overwrite (bool): redo outputs that exist. Defaults to False.
        after (Callable, optional): called with each job whose outputs were
            just written (e.g. to derive a spectrogram).

    Returns:
        Summary: counts and failures.
    """
    summary = Summary()
    pending = []
    for job in jobs:
        if any(job.todo(overwrite)):
            pending.append(job)
        else:
            summary.skipped += 1
    if pending:
        require_av()  # fail once, before the progress bar, if missing
    for job in progress(pending, f'{len(pending)} video(s) to convert'):
        frames, audio = job.todo(overwrite)
        try:
            if frames:
                extract_frames(job.video, job.frames_dir, fps, quality)
            if audio:
                extract_audio(job.video, job.wav_path, sample_rate)
            if after is not None:
                after(job)
        except DecoderMissingError:
            raise
        except ConversionError as exc:
            summary.failed.append((job.video, str(exc)))
            continue
        summary.converted += 1
    return summary


def find_videos(folder: Path, suffix: str) -> List[Path]:
    """Sorted ``*<suffix>`` files of ``folder``; a clear error if none.

    Args:
        folder (Path): the input folder.
        suffix (str): file suffix with its dot, e.g. ``'.flv'``.

    Returns:
        List[Path]: the videos, sorted by name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConversionError(f'input folder {folder} does not exist')
    videos = sorted(p for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() == suffix.lower())
    if not videos:
        raise ConversionError(f'no *{suffix} files in {folder}')
    return videos


def add_common_args(parser) -> None:
    """Add ``--fps``, ``--jpeg-quality`` and ``--overwrite`` to a parser."""
    parser.add_argument(
        '--fps',
        type=float,
        default=1.0,
        help='frames per second to keep (default: 1)')
    parser.add_argument(
        '--jpeg-quality',
        type=int,
        default=95,
        help='JPEG quality 1..100 (default: 95)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='redo outputs that already exist (default: skip '
        'them, so an interrupted run resumes)')


def check_common_args(parser, args) -> None:
    """Reject out-of-range common arguments through ``parser.error``."""
    if args.fps <= 0:
        parser.error(f'--fps {args.fps} must be > 0')
    if not 1 <= args.jpeg_quality <= 100:
        parser.error(f'--jpeg-quality {args.jpeg_quality} must be in 1..100')
