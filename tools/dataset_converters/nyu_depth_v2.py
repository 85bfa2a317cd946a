"""Convert the official NYU-Depth V2 downloads to PNG files and split lists.

Input (the official files, in one folder or named one by one)::

    SRC/
    ├── nyu_depth_v2_labeled.mat   # MATLAB v7.3 = HDF5, read with h5py
    ├── classMapping40.mat         # 894 -> 40 class mapping
    └── splits.mat                 # trainNdxs (795) / testNdxs (654)

What the files hold (checked on the files' public readers, and required by
this tool; anything else is an error that names the file and the key):

- ``nyu_depth_v2_labeled.mat``: HDF5 datasets stored transposed (MATLAB is
  column-major, so h5py shows the MATLAB dimensions reversed):
  ``images`` uint8 ``(N, 3, W, H)``, ``depths`` float ``(N, W, H)`` in
  metres, ``labels`` integer ``(N, W, H)`` with 0 = unlabeled and
  1..894 the object classes; N = 1449, H x W = 480 x 640. Image ``i`` is
  ``images[i].transpose(2, 1, 0)`` ``(H, W, 3)`` RGB.
- ``classMapping40.mat``: ``mapClass`` ``(1, 894)``, values 1..40 (the
  40-class id of each of the 894 classes), and ``className`` ``(1, 40)``
  cell of names (optional here). Read with scipy (MATLAB v5) or h5py
  (v7.3).
- ``splits.mat``: ``trainNdxs`` ``(795, 1)`` and ``testNdxs`` ``(654, 1)``,
  1-based indices into the N images.

Output::

    OUT/
    ├── rgb/0001.png ...      # uint8 RGB
    ├── depth/0001.png ...    # uint16 depth in millimetres (round, clip)
    ├── label40/0001.png ...  # uint8: 0..39 = class id - 1, 255 = void
    ├── train.txt             # names of the train split, one a line
    └── test.txt

A name is the 1-based image index, zero-padded to 4 digits. Each file is
written to a temporary name and renamed, and a sample whose three files
exist is skipped, so an interrupted run resumes where it stopped
(``--overwrite`` rewrites everything). The split lists are written last.

Example::

    python tools/dataset_converters/nyu_depth_v2.py \\
        --src data/nyu_download --out data/nyu_depth_v2
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

LABELED = 'nyu_depth_v2_labeled.mat'
MAPPING = 'classMapping40.mat'
SPLITS = 'splits.mat'
NUM_CLASSES = 40
VOID = 255
SUBDIRS = ('rgb', 'depth', 'label40')


class NYUFormatError(ValueError):
    """A source file is not what the official download holds."""


def sample_name(index: int) -> str:
    """File stem of the 0-based image ``index`` (1-based, 4 digits)."""
    return f'{index + 1:04d}'


def read_mat(path: Path, keys: Sequence[str]) -> Dict[str, np.ndarray]:
    """Numeric arrays ``keys`` of a MATLAB file (v5 via scipy, v7.3 via h5py).

    Arrays come back in MATLAB's dimension order for both formats (h5py's
    reversed order is transposed back).

    Raises:
        FileNotFoundError: no such file.
        NYUFormatError: not a MATLAB file, or a key is missing (the message
            names the file, the key and the keys it holds).
    """
    if not path.is_file():
        raise FileNotFoundError(f'{path} does not exist')
    import scipy.io
    from scipy.io.matlab import MatReadError
    try:
        mat = scipy.io.loadmat(str(path))
        held = sorted(k for k in mat if not k.startswith('__'))
        get = mat.__getitem__
    except NotImplementedError:  # MATLAB v7.3: HDF5
        import h5py
        with h5py.File(path, 'r') as f:
            held = sorted(f.keys())
            mat = {k: np.asarray(f[k]).T for k in keys if k in f}
        get = mat.__getitem__
    except (ValueError, MatReadError) as e:
        raise NYUFormatError(f'{path} is not a MATLAB file: {e}') from e
    out = {}
    for key in keys:
        if key not in held:
            raise NYUFormatError(
                f'{path} has no {key!r} (it holds {held}); is it the '
                f'official {path.name}?')
        out[key] = np.asarray(get(key))
    return out


def load_class_mapping(path: Path) -> np.ndarray:
    """The 894 -> 40 look-up table, as labels 0..894 -> 0..39 / 255.

    ``lut[0] = 255`` (unlabeled is void), ``lut[i] = mapClass[i - 1] - 1``.

    Raises:
        NYUFormatError: ``mapClass`` missing, or values outside 1..40.
    """
    map_class = read_mat(path, ['mapClass'])['mapClass'].reshape(-1)
    if map_class.size == 0 or not np.issubdtype(map_class.dtype, np.number):
        raise NYUFormatError(f'{path}: mapClass must be a numeric vector, '
                             f'got {map_class.dtype} {map_class.shape}')
    if map_class.min() < 1 or map_class.max() > NUM_CLASSES:
        raise NYUFormatError(
            f'{path}: mapClass values must be in 1..{NUM_CLASSES}, got '
            f'{map_class.min()}..{map_class.max()}')
    lut = np.full(map_class.size + 1, VOID, dtype=np.uint8)
    lut[1:] = map_class.astype(np.int64) - 1
    return lut


def load_splits(path: Path, num_images: int) -> Tuple[np.ndarray, np.ndarray]:
    """0-based train and test indices of ``splits.mat``.

    Raises:
        NYUFormatError: a key is missing, an index is outside 1..N, or the
            two splits overlap.
    """
    mat = read_mat(path, ['trainNdxs', 'testNdxs'])
    out = []
    for key in ('trainNdxs', 'testNdxs'):
        idx = mat[key].reshape(-1).astype(np.int64)
        if idx.size == 0 or idx.min() < 1 or idx.max() > num_images:
            span = f' in {idx.min()}..{idx.max()}' if idx.size else ''
            raise NYUFormatError(
                f'{path}: {key} must hold 1-based indices in 1..{num_images}'
                f', got {idx.size} values{span}')
        out.append(idx - 1)
    train, test = out
    both = np.intersect1d(train, test)
    if both.size:
        raise NYUFormatError(f'{path}: trainNdxs and testNdxs share '
                             f'{both.size} images, e.g. {both[0] + 1}')
    return train, test


class LabeledMat:
    """Lazy reader of ``nyu_depth_v2_labeled.mat`` (one image at a time)."""

    KEYS = ('images', 'depths', 'labels')

    def __init__(self, path: Path) -> None:
        import h5py
        if not path.is_file():
            raise FileNotFoundError(f'{path} does not exist')
        try:
            self.file = h5py.File(path, 'r')
        except OSError as e:
            raise NYUFormatError(
                f'{path} is not a MATLAB v7.3 (HDF5) file: {e}') from e
        self.path = path
        held = sorted(self.file.keys())
        for key in self.KEYS:
            if key not in self.file:
                self.file.close()
                raise NYUFormatError(f'{path} has no {key!r} (it holds '
                                     f'{held}); is it the official {LABELED}?')
        self.images = self.file['images']
        self.depths = self.file['depths']
        self.labels = self.file['labels']
        n = self.images.shape[0]
        expect = {
            'images': (self.images, 4),
            'depths': (self.depths, 3),
            'labels': (self.labels, 3)
        }
        for key, (ds, ndim) in expect.items():
            if ds.ndim != ndim or ds.shape[0] != n:
                self.close()
                raise NYUFormatError(
                    f'{path}: {key!r} has shape {ds.shape}; expected '
                    '(N, 3, W, H) images and (N, W, H) depths / labels')
        if self.images.shape[1] != 3 or \
                self.images.shape[2:] != self.depths.shape[1:] or \
                self.depths.shape[1:] != self.labels.shape[1:]:
            self.close()
            raise NYUFormatError(
                f'{path}: images {self.images.shape}, depths '
                f'{self.depths.shape} and labels {self.labels.shape} do not '
                'fit (N, 3, W, H) / (N, W, H)')
        self.num_images = n

    def sample(self, i: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RGB ``(H, W, 3)`` uint8, depth ``(H, W)`` metres, labels (H, W)."""
        rgb = np.ascontiguousarray(self.images[i].transpose(2, 1, 0))
        depth = np.ascontiguousarray(self.depths[i].T)
        labels = np.ascontiguousarray(self.labels[i].T)
        return rgb.astype(np.uint8), depth, labels

    def close(self) -> None:
        self.file.close()


def _write_png(path: Path, img: np.ndarray) -> None:
    """Encode a PNG and move it into place atomically."""
    import cv2
    ok, buf = cv2.imencode('.png', img)
    if not ok:
        raise RuntimeError(f'could not encode {path}')
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def _write_text(path: Path, lines: List[str]) -> None:
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(''.join(f'{line}\n' for line in lines))
    os.replace(tmp, path)


def convert_sample(mat: LabeledMat, i: int, lut: np.ndarray, out: Path,
                   overwrite: bool = False) -> bool:
    """Write the three PNGs of image ``i``; False if they existed already.

    Raises:
        NYUFormatError: a label exceeds the class mapping.
    """
    name = sample_name(i)
    paths = [out / d / f'{name}.png' for d in SUBDIRS]
    if not overwrite and all(p.is_file() for p in paths):
        return False
    rgb, depth, labels = mat.sample(i)
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= lut.size:
        raise NYUFormatError(
            f'{mat.path}: labels of image {i + 1} reach {labels.max()}, but '
            f'the class mapping covers 0..{lut.size - 1}')
    depth_mm = np.clip(np.rint(np.nan_to_num(depth) * 1000.0), 0, 65535)
    _write_png(paths[0], np.ascontiguousarray(rgb[..., ::-1]))  # cv2: BGR
    _write_png(paths[1], depth_mm.astype(np.uint16))
    _write_png(paths[2], lut[labels])
    return True


def convert(labeled: Path,
            mapping: Path,
            splits: Path,
            out: Path,
            overwrite: bool = False,
            progress: bool = True) -> Dict[str, int]:
    """Convert every image of the two splits; return counts.

    Returns:
        dict: ``written``, ``skipped``, ``train``, ``test``.
    """
    lut = load_class_mapping(mapping)
    mat = LabeledMat(labeled)
    try:
        train, test = load_splits(splits, mat.num_images)
        for d in SUBDIRS:
            (out / d).mkdir(parents=True, exist_ok=True)
        todo = sorted(set(train.tolist()) | set(test.tolist()))
        from tqdm import tqdm
        written = 0
        for i in tqdm(todo, desc='NYU-Depth V2', unit='img',
                      disable=not progress):
            written += convert_sample(mat, i, lut, out, overwrite)
    finally:
        mat.close()
    _write_text(out / 'train.txt', [sample_name(i) for i in train])
    _write_text(out / 'test.txt', [sample_name(i) for i in test])
    return dict(
        written=written,
        skipped=len(todo) - written,
        train=len(train),
        test=len(test))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='NYU-Depth V2 labeled .mat -> rgb/, depth/, label40/ '
        'PNGs and train.txt / test.txt')
    parser.add_argument(
        '--src',
        type=Path,
        default=Path('data/nyu_download'),
        help=f'folder of {LABELED}, {MAPPING} and {SPLITS} '
        '(default: data/nyu_download)')
    parser.add_argument('--labeled', type=Path, help=f'{LABELED} path')
    parser.add_argument('--mapping', type=Path, help=f'{MAPPING} path')
    parser.add_argument('--splits', type=Path, help=f'{SPLITS} path')
    parser.add_argument(
        '--out',
        type=Path,
        default=Path('data/nyu_depth_v2'),
        help='output folder (default: data/nyu_depth_v2)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='rewrite samples whose files exist')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the conversion; returns 0, or 1 when a source file is wrong."""
    args = parse_args(argv)
    try:
        counts = convert(
            args.labeled or args.src / LABELED,
            args.mapping or args.src / MAPPING,
            args.splits or args.src / SPLITS,
            args.out,
            overwrite=args.overwrite,
            progress=not args.no_progress)
    except (FileNotFoundError, NYUFormatError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'{counts["written"]} samples written, {counts["skipped"]} '
          f'already there; {counts["train"]} train / {counts["test"]} test '
          f'-> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
