"""Where the teacher cache keeps its rows: one per ``sample_idx``.

Storage (``type``):

- ``'memory'``: a dict on the CPU of each process. Under DDP each rank keeps
  the samples it has seen; MMEngine's ``DefaultSampler`` deals a new
  permutation every epoch, so a rank meets samples first cached by another
  rank: the teacher then runs on those samples only (a sub-batch), and
  their share halves about every epoch with 2 ranks (each rank ends up
  holding up to the whole data set).
- ``'disk'``: ``{dir}/{key}/rank{r}/``, one ``.npy`` memory map per recorded
  tensor with one row per ``sample_idx`` (grown as indices come), an index
  file of filled flags, digests and per-row CRC-32s, and ``meta.pt`` with
  the record structure (plain data, read with ``weights_only=True``). Each
  rank writes and reads only its own folder (no cross-rank races; rows
  another rank computed are recomputed once); the folder persists, so
  later runs with the same teacher and pipeline (an ablation sweep, a
  resumed run) start with hits. A folder already in use by another process
  (``flock``) makes this process fall back to memory, with a warning.
  Faults (see :class:`DiskStore`): a process killed while filling or
  growing the cache leaves rows that are either complete or unflagged, and
  the next run recomputes the missing ones; a row whose bytes do not match
  its checksum is never served (recomputed, one warning counting them); a
  truncated, empty or missing meta / index / leaf file rebuilds the folder
  with a warning; a ``meta.pt`` that would need code to load (a crafted
  pickle) is refused with an error naming it: delete the folder to rebuild.
"""
import os
import os.path as osp
import re
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from .files import CacheDamaged, check_mmap, load_meta, row_crc, save_meta
from .records import Entry, Spec

__all__ = ['MemoryStore', 'DiskStore', 'FORMAT']

FORMAT = 2  # bump when the stored layout changes (it is in the key)
_ROW = 21  # index.npy bytes per row: filled flag, digest (16), CRC-32 (4)


class MemoryStore:
    """``{sample_idx: (digest, leaves)}`` in this process's memory."""

    def __init__(self) -> None:
        self.spec: Optional[Spec] = None
        self._rows: Dict[int, Entry] = {}

    def get(self, idx: int) -> Optional[Entry]:
        return self._rows.get(idx)

    def put(self, idx: int, digest: bytes,
            leaves: List[torch.Tensor]) -> None:
        self._rows[idx] = (digest, leaves)

    def set_spec(self, spec: Spec) -> None:
        self.spec = spec

    def __len__(self) -> int:
        return len(self._rows)


_NP_DTYPES = {
    torch.float32: np.float32, torch.float64: np.float64,
    torch.float16: np.float16, torch.bfloat16: np.int16,
    torch.int64: np.int64, torch.int32: np.int32, torch.int16: np.int16,
    torch.int8: np.int8, torch.uint8: np.uint8, torch.bool: np.bool_
}


class DiskStore:
    """Rows ``[sample_idx]`` of ``.npy`` memory maps in ``root``.

    Layout: ``index.npy`` ``(cap, 21)`` uint8 (byte 0: filled, 1..16: the
    input digest, 17..20: CRC-32 of the row, :func:`row_crc`),
    ``leaf{k}.npy`` ``(cap, *shape_k)`` per recorded tensor, ``meta.pt``
    the structure, shapes and dtypes as plain data (read with
    ``weights_only=True``; :mod:`.files`).

    Crash safety: a row's data and checksum are written before its flag,
    so a process killed in between leaves the row unflagged (recomputed).
    ``meta.pt`` is replaced atomically. Growing writes every file anew as
    ``*.grow.npy`` and renames the leaves first and ``index.npy`` last: the
    index's length is the capacity, and every leaf is at least as long, at
    any moment. Opening checks all of it: leftover ``*.grow.npy`` files
    (an interrupted grow) are removed with a warning and the rows kept;
    flagged rows whose checksum fails are unflagged (recomputed) with one
    warning that counts them; a damaged meta or data file
    (:class:`CacheDamaged`) rebuilds the folder with a warning; a meta that
    needs code to load is an error (``UnsafeCacheFile``).
    """

    def __init__(self, root: str) -> None:
        os.makedirs(root, exist_ok=True)
        self.root = root
        self._lock_file = open(osp.join(root, 'lock'), 'a+')
        try:
            import fcntl
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover  (no flock on Windows)
            pass
        except OSError:
            self._lock_file.close()
            raise
        self.invalid_rows = 0  # flagged rows that failed their checksum
        self._reset()
        try:
            self._load()
        except CacheDamaged as err:
            warnings.warn(f'teacher_cache: the disk cache {root} is damaged '
                          f'({err}); rebuilding it (the teacher recomputes '
                          'its features)')
            self._remove_files()
            self._reset()
        except BaseException:
            self._lock_file.close()
            raise

    def _reset(self) -> None:
        self.spec: Optional[Spec] = None
        self._shapes: List[Tuple[int, ...]] = []
        self._dtypes: List[torch.dtype] = []
        self._index: Optional[np.ndarray] = None
        self._leaves: List[np.ndarray] = []

    def _path(self, name: str) -> str:
        return osp.join(self.root, f'{name}.npy')

    def _data_files(self, suffix: str = '.npy') -> List[str]:
        return sorted(
            osp.join(self.root, f) for f in os.listdir(self.root)
            if re.fullmatch(r'(index|leaf\d+)' + re.escape(suffix), f))

    def _remove_files(self) -> None:
        self._index, self._leaves = None, []
        for name in ['meta.pt', 'meta.pt.tmp'] + [
                osp.basename(f) for f in self._data_files() +
                self._data_files('.grow.npy')]:
            if osp.exists(osp.join(self.root, name)):
                os.remove(osp.join(self.root, name))

    def _load(self) -> None:
        """Read the meta, map and check the files, validate every row."""
        grow_left = self._data_files('.grow.npy')
        for path in grow_left + [osp.join(self.root, 'meta.pt.tmp')]:
            if osp.exists(path):
                os.remove(path)  # a write never completed; never read
        meta = osp.join(self.root, 'meta.pt')
        if not osp.isfile(meta):
            if self._data_files():
                raise CacheDamaged('data files but no meta.pt')
            return
        self.spec, self._shapes, self._dtypes = load_meta(
            meta, FORMAT, self.root, _NP_DTYPES)
        self._open()
        if grow_left:
            warnings.warn(
                f'teacher_cache: the disk cache {self.root} was interrupted '
                f'while growing; recovered: {len(self)} filled rows kept, '
                f'{len(grow_left)} unfinished file(s) removed')
        bad = [i for i in np.flatnonzero(self._index[:, 0]).tolist()
               if not self._valid(i, [a[i:i + 1] for a in self._leaves])] \
            if self._index is not None else []
        if bad:
            self._index[bad, 0] = 0
            self._index.flush()
            warnings.warn(
                f'teacher_cache: {len(bad)} row(s) of {self.root} flagged '
                f'filled failed their checksum (sample_idx {bad[:10]}'
                f'{" ..." if len(bad) > 10 else ""}); they are recomputed')

    def _open(self) -> None:
        """Map the existing files (none before the first row)."""
        self._index, self._leaves = None, []
        if not osp.isfile(self._path('index')):
            if self._data_files():  # leaves of a first grow, no index yet
                raise CacheDamaged('leaf files but no index.npy')
            return
        self._index = check_mmap(self._path('index'), np.uint8, (_ROW, ))
        self._leaves = [
            check_mmap(self._path(f'leaf{k}'), _NP_DTYPES[d], s,
                       self.capacity)
            for k, (s, d) in enumerate(zip(self._shapes, self._dtypes))
        ]

    @property
    def capacity(self) -> int:
        return 0 if self._index is None else self._index.shape[0]

    def _valid(self, idx: int, rows: List[np.ndarray]) -> bool:
        stored = int.from_bytes(bytes(self._index[idx, 17:]), 'little')
        return row_crc(idx, bytes(self._index[idx, 1:17]), rows) == stored

    def set_spec(self, spec: Spec, leaves: List[torch.Tensor]) -> None:
        """Fix the structure and per-sample shapes, write the meta."""
        shapes = [tuple(t.shape) for t in leaves]
        dtypes = [t.dtype for t in leaves]
        for d in dtypes:
            if d not in _NP_DTYPES:
                raise TypeError(f'teacher_cache type=disk cannot store {d}')
        save_meta(osp.join(self.root, 'meta.pt'), FORMAT, spec, shapes,
                  dtypes)
        self.spec, self._shapes, self._dtypes = spec, shapes, dtypes

    def _grow(self, idx: int) -> None:
        """Make row ``idx`` exist: new files twice as long, rows copied;
        the index is renamed last, so its length is the capacity."""
        old = self.capacity
        cap = max(2 * old, idx + 1, 256)
        specs = [(f'leaf{k}', _NP_DTYPES[d], s)
                 for k, (s, d) in enumerate(zip(self._shapes, self._dtypes))
                 ] + [('index', np.uint8, (_ROW, ))]
        arrays = self._leaves + [self._index] if old else [None] * len(specs)
        for (name, dtype, shape), arr in zip(specs, arrays):
            new = np.lib.format.open_memmap(
                self._path(name + '.grow'), mode='w+', dtype=dtype,
                shape=(cap, *shape))
            if old:
                new[:old] = arr[:old]
            new.flush()
            del new
        for name, _, _ in specs:
            os.replace(self._path(name + '.grow'), self._path(name))
        self._open()

    def get(self, idx: int) -> Optional[Entry]:
        """The row of ``idx``, or None when absent or failing its checksum
        (then unflagged and counted in ``invalid_rows``)."""
        if idx >= self.capacity or not self._index[idx, 0]:
            return None
        rows = [np.array(arr[idx]) for arr in self._leaves]  # copies
        if not self._valid(idx, rows):
            self._index[idx, 0] = 0
            self.invalid_rows += 1
            if self.invalid_rows == 1:
                warnings.warn(f'teacher_cache: row {idx} of {self.root} '
                              'failed its checksum; recomputing it (further '
                              'ones are counted in invalid_rows)')
            return None
        leaves = []
        for row, dtype in zip(rows, self._dtypes):
            t = torch.from_numpy(row)
            leaves.append(t.view(dtype) if dtype == torch.bfloat16 else t)
        return bytes(self._index[idx, 1:17]), leaves

    def put(self, idx: int, digest: bytes,
            leaves: List[torch.Tensor]) -> None:
        for k, t in enumerate(leaves):
            if tuple(t.shape) != self._shapes[k] or t.dtype != self._dtypes[k]:
                raise ValueError(
                    f'teacher_cache type=disk: recorded tensor {k} of sample '
                    f'{idx} is {t.dtype} {tuple(t.shape)}, earlier samples '
                    f'{self._dtypes[k]} {self._shapes[k]}; a disk cache needs '
                    'one shape per record (use type=memory)')
        if idx >= self.capacity:
            self._grow(idx)
        for arr, t in zip(self._leaves, leaves):
            if t.dtype == torch.bfloat16:
                t = t.view(torch.int16)
            arr[idx] = t.numpy()
        crc = row_crc(idx, digest, [a[idx:idx + 1] for a in self._leaves])
        self._index[idx, 1:17] = np.frombuffer(digest, dtype=np.uint8)
        self._index[idx, 17:] = np.frombuffer(
            crc.to_bytes(4, 'little'), dtype=np.uint8)
        self._set_filled(idx)

    def _set_filled(self, idx: int) -> None:
        """Flag row ``idx`` filled: after its data and checksum."""
        self._index[idx, 0] = 1

    def flush(self) -> None:
        for arr in [self._index] + self._leaves:
            if arr is not None:
                arr.flush()

    def close(self) -> None:
        """Flush, unmap and release the folder's lock."""
        self.flush()
        self._index, self._leaves = None, []
        self._lock_file.close()

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index[:, 0].sum())

