"""Extract 1 fps frames from the CREMA-D videos.

Input (the CREMA-D download; the audio already comes as ``AudioWAV``)::

    ROOT/
    ├── AudioWAV/<clip>.wav
    └── VideoFlash/<clip>.flv

Output (the layout the CREMA-D readers of the field use)::

    OUT/
    └── Image-01-FPS/<clip>/frame_00000.jpg frame_00001.jpg ...

One frame per second: slot ``k`` is the decoded frame nearest to ``k + 0.5``
seconds. Finished clips are skipped, so an interrupted run resumes.

Example::

    python tools/dataset_converters/crema_d.py --root data/crema-d
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import _video


def build_jobs(root: Path, out: Path) -> List[_video.VideoJob]:
    """One frames-only job per ``VideoFlash/<clip>.flv``.

    Args:
        root (Path): the CREMA-D folder.
        out (Path): where ``Image-01-FPS`` goes.

    Returns:
        List[_video.VideoJob]: sorted by clip name.
    """
    videos = _video.find_videos(root / 'VideoFlash', '.flv')
    return [
        _video.VideoJob(v, frames_dir=out / 'Image-01-FPS' / v.stem)
        for v in videos
    ]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='CREMA-D: VideoFlash/*.flv -> Image-01-FPS/<clip>/*.jpg')
    parser.add_argument(
        '--root',
        type=Path,
        default=Path('data/crema-d'),
        help='CREMA-D folder holding VideoFlash/ '
        '(default: data/crema-d)')
    parser.add_argument(
        '--out',
        type=Path,
        default=None,
        help='output folder (default: --root)')
    _video.add_common_args(parser)
    args = parser.parse_args(argv)
    _video.check_common_args(parser, args)
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
            quality=args.jpeg_quality,
            overwrite=args.overwrite)
    except _video.ConversionError as exc:
        raise SystemExit(f'crema_d.py: error: {exc}') from exc
    summary.report()
    return 1 if summary.failed else 0


if __name__ == '__main__':
    sys.exit(main())
