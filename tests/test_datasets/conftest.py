"""Tiny audio-visual data sets in each real on-disk layout, under tmp_path.

The ``av_writer`` fixture returns an :class:`AVWriter` rooted at
``tmp_path / 'data'``; its methods write wav files, frame folders and the
index files of CREMA-D, AV-digits, AVE and VGGSound exactly as the data set
classes expect them (see their docstrings for the trees).
"""
import pickle
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pytest
import soundfile


class AVWriter:
    """Writes tiny fixtures under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    # -- single files ----------------------------------------------------
    @staticmethod
    def wav(path: Path,
            data: Optional[np.ndarray] = None,
            sr: int = 22050,
            seconds: float = 0.25,
            subtype: str = 'PCM_16') -> np.ndarray:
        """Write ``data`` ((N,) or (N, C)) or a 440 Hz tone; return it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            t = np.arange(int(round(seconds * sr))) / sr
            data = 0.5 * np.sin(2 * np.pi * 440.0 * t)
        soundfile.write(str(path), data, sr, subtype=subtype)
        return data

    @staticmethod
    def frames(folder: Path,
               n: int = 3,
               size: Tuple[int, int] = (8, 8),
               ext: str = '.jpg',
               images: Optional[Sequence[np.ndarray]] = None,
               name: str = 'frame_{:04d}') -> List[Path]:
        """Write ``n`` frames (BGR uint8 ``images`` or grey levels 10*i)."""
        folder.mkdir(parents=True, exist_ok=True)
        if images is None:
            images = [
                np.full((size[0], size[1], 3), 10 * i, dtype=np.uint8)
                for i in range(n)
            ]
        paths = []
        for i, img in enumerate(images):
            path = folder / (name.format(i) + ext)
            assert cv2.imwrite(str(path), img)
            paths.append(path)
        return paths

    @staticmethod
    def spec(path: Path, array: np.ndarray) -> None:
        """Pickle (``.pkl``) or ``np.save`` (``.npy``) a spectrogram."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == '.npy':
            np.save(path, array)
        else:
            with open(path, 'wb') as f:
                pickle.dump(array, f)

    # -- whole layouts ---------------------------------------------------
    def _clip_files(self, clip: str, audio: Optional[str], frames: str,
                    skip_audio: bool, skip_frames: bool,
                    audio_format: str) -> None:
        if not skip_audio:
            if audio_format == 'wav':
                self.wav(self.root / audio.format(clip))
            else:
                self.spec(self.root / audio.format(clip),
                          np.zeros((257, 4), dtype=np.float32))
        if not skip_frames:
            self.frames(self.root / frames.format(clip))

    def cremad(self,
               rows: Sequence[Tuple[str, str]],
               ann: str = 'train.csv',
               header: Optional[str] = None,
               missing_audio: Iterable[str] = (),
               missing_frames: Iterable[str] = (),
               audio_format: str = 'wav') -> Path:
        """CREMA-D / AV-digits layout: ``ann`` rows ``clip,label``."""
        missing_audio, missing_frames = set(missing_audio), set(
            missing_frames)
        lines = [header] if header else []
        audio = 'AudioWAV/{}.wav' if audio_format == 'wav' else \
            'AudioSpec/{}.' + audio_format
        for clip, label in rows:
            lines.append(f'{clip},{label}')
            self._clip_files(clip, audio, 'Image-01-FPS/{}', clip
                             in missing_audio, clip in missing_frames,
                             audio_format)
        (self.root / ann).write_text('\n'.join(lines) + '\n')
        return self.root

    def ave(self,
            rows: Sequence[Tuple[str, str, float, float]],
            ann: str = 'trainSet.txt',
            header: bool = False,
            audio_format: str = 'wav',
            missing_audio: Iterable[str] = ()) -> Path:
        """AVE layout: rows ``Category&id&good&start&end``."""
        missing_audio = set(missing_audio)
        lines = ['Category&VideoID&Quality&StartTime&EndTime'] \
            if header else []
        audio = 'AudioWAV/{}.wav' if audio_format == 'wav' else \
            'AudioSpec/{}.' + audio_format
        for cat, vid, start, end in rows:
            lines.append(f'{cat}&{vid}&good&{start:g}&{end:g}')
            self._clip_files(vid, audio, 'Image-01-FPS-SE/{}',
                             vid in missing_audio, False, audio_format)
        (self.root / ann).write_text('\n'.join(lines) + '\n')
        return self.root

    def vggsound(self,
                 rows: Sequence[Tuple[str, int, str, str]],
                 ann: str = 'train_tiny.csv',
                 header: bool = False) -> Path:
        """VGGSound layout: rows ``ytid,start,label,split`` (csv-quoted)."""
        import csv
        with open(self.root / ann, 'w', newline='') as f:
            writer = csv.writer(f)
            if header:
                writer.writerow(['ytid', 'start', 'label', 'split'])
            for ytid, start, label, split in rows:
                writer.writerow([ytid, start, label, split])
                clip = f'{ytid}_{start:06d}'
                self._clip_files(clip, 'audio/{}.wav', 'Image-01-FPS/{}.mp4',
                                 False, False, 'wav')
        return self.root


@pytest.fixture
def av_writer(tmp_path: Path) -> AVWriter:
    """An :class:`AVWriter` rooted at ``tmp_path / 'data'``."""
    return AVWriter(tmp_path / 'data')
