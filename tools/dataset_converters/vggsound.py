"""Extract frames and 16 kHz audio from VGGSound clips.

Input (one 10 s clip per row of the VGGSound csv, named by YouTube id and
start second)::

    ROOT/
    └── video/<ytid>_<start:06d>.mp4

Output (the layout of the C2KD VGGSound reader)::

    OUT/
    ├── Image-01-FPS/<ytid>_<start:06d>.mp4/frame_00000.jpg ...
    └── audio/<ytid>_<start:06d>.wav       # mono, 16-bit PCM, 16000 Hz

Note that the frame folder keeps the ``.mp4`` suffix in its name, as the
reader expects. One frame per second (slot ``k`` = the frame nearest to
``k + 0.5`` s); the reader picks its frames from these. Finished clips are
skipped, so an interrupted run resumes.

Example::

    python tools/dataset_converters/vggsound.py --root data/vggsound
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import _video


def build_jobs(root: Path, out: Path) -> List[_video.VideoJob]:
    """One frames + audio job per ``video/<name>.mp4``.

    Args:
        root (Path): the VGGSound folder.
        out (Path): where ``Image-01-FPS`` and ``audio`` go.

    Returns:
        List[_video.VideoJob]: sorted by clip name.
    """
    videos = _video.find_videos(root / 'video', '.mp4')
    return [
        _video.VideoJob(
            v,
            frames_dir=out / 'Image-01-FPS' / v.name,
            wav_path=out / 'audio' / f'{v.stem}.wav') for v in videos
    ]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='VGGSound: video/*.mp4 -> Image-01-FPS/<name>.mp4/*.jpg '
        'and audio/<name>.wav (16 kHz mono)')
    parser.add_argument(
        '--root',
        type=Path,
        default=Path('data/vggsound'),
        help='VGGSound folder holding video/ '
        '(default: data/vggsound)')
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
    except _video.ConversionError as exc:
        raise SystemExit(f'vggsound.py: error: {exc}') from exc
    summary.report()
    return 1 if summary.failed else 0


if __name__ == '__main__':
    sys.exit(main())
