"""Compute a frozen teacher's recorded features once per sample, then serve
them from a cache (``CrossModalDistill(teacher_cache=...)``).

A frozen teacher maps the same input to the same features on every epoch;
when the teacher modality's pipeline is deterministic its input is the same
too, so its forward pass needs to run only on the first epoch. The cache
stores, per sample:

- every entry of every teacher recorder's ``data_buffer`` (each record
  sliced along the batch dimension),
- the teacher's ``'tensor'``-mode output (the logits of a classifier),
- a 16-byte digest of the teacher's input (see :func:`input_digests`),

keyed by ``data_samples[i].sample_idx`` (MMEngine's ``BaseDataset`` sets it,
``fdkd.PackMultiModalInputs`` keeps it as metainfo) inside a cache key that
hashes the teacher's weights (its whole ``state_dict``, read when the first
batch arrives, i.e. after any checkpoint loading) with the teacher-side part
of the pipeline config, the recorders and ``fixed_view``. A changed
checkpoint or pipeline is therefore a new key: nothing stale is served.

Which transforms touch the teacher modality (:func:`teacher_transforms`):
the project's own loaders are known (``LoadAudio``, ``LoadSpectrogram`` and
``Spectrogram`` write ``'audio'``; ``LoadFrames`` writes ``'visual'``;
``PackMultiModalInputs`` only packs); any other transform is taken to touch
the modalities named by its ``keys`` / ``key`` / ``out_keys`` /
``out_key`` / ``modalities`` / ``modality`` arguments or in its ``mapping``
(``KeyMapper``), and all modalities when it has none. Which ones are random
(:func:`random_transforms`): ``LoadAudio`` with ``random_crop=True`` outside
``test_mode``, ``LoadFrames`` outside ``test_mode`` (random frame, crop box,
flip), a wrapper whose ``transforms`` hold a random one, and any other
transform whose name contains ``rand``, ``augment``, ``jitter``, ``mix``,
``noise`` or ``shuffle`` or that has a ``*prob*`` argument > 0.

A random teacher-side transform is refused unless ``fixed_view=True``:
then the first view drawn for each sample is cached and the teacher sees
that one augmentation of the sample for the whole run. A transform drawn
once for both modalities (the joint random crop and flip of RGB-D
segmentation) is then no longer shared: the student's view and the cached
teacher view of a sample differ, which misaligns dense (map) features;
pooled classification features only lose augmentation.

Without ``fixed_view`` the digest of each cached sample's input is compared
with the input of every later visit, so a random transform the rules above
miss (or a data set that changed under a disk cache) is an error, never a
silently stale feature.

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
  Faults (see :class:`_DiskStore`): a process killed while filling or
  growing the cache leaves rows that are either complete or unflagged, and
  the next run recomputes the missing ones; a row whose bytes do not match
  its checksum is never served (recomputed, one warning counting them); a
  truncated, empty or missing meta / index / leaf file rebuilds the folder
  with a warning; a ``meta.pt`` that would need code to load (a crafted
  pickle) is refused with an error naming it: delete the folder to rebuild.

Limits: a distiller with ``distill_deliveries`` (they replay teacher
outputs through the student's forward) cannot be cached; a recorded value
that is not per sample (its first dimension is not the batch size) is
stored once and must stay identical on every batch; the teacher must be in
eval mode, as ``CrossModalDistill.train()`` keeps a frozen one (batch
statistics would make a sample's feature depend on its batch).
"""
import hashlib
import json
import os
import os.path as osp
import re
import warnings
from typing import (Any, Callable, Dict, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.structures import BaseDataElement

from .teacher_cache_files import (CacheDamaged, check_mmap, load_meta,
                                  row_crc, save_meta)

__all__ = [
    'TeacherCache', 'teacher_transforms', 'random_transforms',
    'input_digests', 'state_dict_digest'
]

CACHE_TYPES = ('memory', 'disk')
DEFAULT_DISK_DIR = osp.join('work_dirs', 'teacher_cache')
_FORMAT = 2  # bump when the stored layout changes (it is in the key)
_ROW = 21  # index.npy bytes per row: filled flag, digest (16), CRC-32 (4)

Transform = Union[dict, Callable]


# ----------------------------------------------------------------------
# pipeline analysis
def _transform_name_and_args(transform: Transform) -> Tuple[str, dict]:
    """``('LoadFrames', {...})`` of a transform config or a built one."""
    if isinstance(transform, dict):
        kind = transform.get('type', '?')
        name = kind if isinstance(kind, str) else getattr(
            kind, '__name__', repr(kind))
        args = {k: v for k, v in transform.items() if k != 'type'}
    else:
        name = type(transform).__name__
        args = {
            k: v
            for k, v in vars(transform).items() if not k.startswith('_')
        }
    return name, args


def _short(name: str) -> str:
    return name.split('.')[-1]  # 'fdkd.LoadFrames' -> 'LoadFrames'


def _load_audio_random(args: dict) -> Optional[str]:
    if args.get('random_crop', False) and not args.get('test_mode', False):
        return 'a random crop start (random_crop=True, test_mode=False)'
    return None


def _load_frames_random(args: dict) -> Optional[str]:
    if not args.get('test_mode', False):
        return 'a random frame, crop box and flip per clip (test_mode=False)'
    return None


# name: (results keys it writes, randomness test or None)
_KNOWN: Dict[str, Tuple[Tuple[str, ...],
                        Optional[Callable[[dict], Optional[str]]]]] = {
    'LoadAudio': (('audio', ), _load_audio_random),
    'LoadSpectrogram': (('audio', ), None),
    'Spectrogram': (('audio', ), None),
    'LoadFrames': (('visual', ), _load_frames_random),
    'PackMultiModalInputs': ((), None),
}
_RANDOM_NAME = re.compile(r'rand|augment|jitter|mix|noise|shuffle', re.I)


def _modalities_of(name: str, args: dict) -> Optional[Tuple[str, ...]]:
    """The results keys a transform writes; None means any of them."""
    if _short(name) in _KNOWN:
        return _KNOWN[_short(name)][0]
    keys: List[str] = []
    for arg in ('keys', 'key', 'out_keys', 'out_key', 'modalities',
                'modality', 'mapping'):
        value = args.get(arg)
        if isinstance(value, dict):  # KeyMapper: inner <-> outer names
            value = [*value.keys(), *value.values()]
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            keys += [v for v in value if isinstance(v, str)]
    return tuple(keys) if keys else None


def _randomness_of(name: str, args: dict) -> Optional[str]:
    """Why a transform is random, or None when it is deterministic."""
    short = _short(name)
    if short in _KNOWN:
        test = _KNOWN[short][1]
        return test(args) if test is not None else None
    inner = args.get('transforms')  # wrappers: KeyMapper, RandomApply...
    if isinstance(inner, (list, tuple)):
        for transform in inner:
            inner_name, inner_args = _transform_name_and_args(transform)
            reason = _randomness_of(inner_name, inner_args)
            if reason is not None:
                return f'its transform {inner_name}: {reason}'
    if _RANDOM_NAME.search(short):
        return f'its name {short!r} says it draws at random'
    for arg, value in args.items():
        if 'prob' in arg and isinstance(value, (int, float)) and value > 0:
            return f'{arg}={value} > 0'
    return None


def teacher_transforms(pipeline: Sequence[Transform],
                       modality: str) -> List[Tuple[int, str, dict]]:
    """The transforms of ``pipeline`` that can change ``modality``.

    Args:
        pipeline (Sequence[dict | callable]): Transform configs (or built
            transforms) of the training data set, both modalities.
        modality (str): The teacher's results key, e.g. ``'audio'``.

    Returns:
        list[tuple[int, str, dict]]: ``(position, type name, arguments)`` of
        each transform that writes ``modality`` or may write any key.
    """
    out = []
    for i, transform in enumerate(pipeline):
        name, args = _transform_name_and_args(transform)
        keys = _modalities_of(name, args)
        if keys is None or modality in keys:
            out.append((i, name, args))
    return out


def random_transforms(pipeline: Sequence[Transform],
                      modality: str) -> List[str]:
    """Descriptions of the random transforms that touch ``modality``.

    Args:
        pipeline (Sequence[dict | callable]): The training pipeline.
        modality (str): The teacher's results key.

    Returns:
        list[str]: One ``'#i Name: reason'`` per random transform; empty
        when ``modality`` comes out of the pipeline deterministically.
    """
    out = []
    for i, name, args in teacher_transforms(pipeline, modality):
        reason = _randomness_of(name, args)
        if reason is not None:
            out.append(f'#{i} {name}: {reason}')
    return out


# ----------------------------------------------------------------------
# digests
def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def state_dict_digest(module: torch.nn.Module) -> str:
    """Hex blake2b of every name, dtype, shape and value of the state dict."""
    h = hashlib.blake2b(digest_size=16)
    for name, value in sorted(module.state_dict().items()):
        h.update(name.encode())
        if isinstance(value, torch.Tensor):
            h.update(f'{value.dtype}{tuple(value.shape)}'.encode())
            h.update(_tensor_bytes(value))
        else:
            h.update(repr(value).encode())
    return h.hexdigest()


def input_digests(inputs: torch.Tensor,
                  tags: Optional[Sequence[object]] = None,
                  max_elems: int = 4096) -> List[bytes]:
    """A 16-byte blake2b digest of each sample of ``inputs`` (and its tag).

    A sample is flattened to ``D`` values; with ``D > max_elems`` only
    ``max_elems`` evenly spaced ones (``linspace(0, D - 1)``) are hashed, so
    a large frame costs little; any crop, flip or frame change alters them.

    Args:
        inputs (Tensor): ``(N, ...)`` teacher inputs.
        tags (Sequence, optional): One extra value per sample hashed along
            (the clip id), or None.
        max_elems (int): Values hashed per sample. Defaults to 4096.

    Returns:
        list[bytes]: ``N`` digests.
    """
    n = inputs.shape[0]
    flat = inputs.detach().reshape(n, -1)  # (N, D)
    if flat.shape[1] > max_elems:
        idx = torch.linspace(
            0, flat.shape[1] - 1, max_elems, device=flat.device).long()
        flat = flat[:, idx]  # (N, max_elems)
    rows = _tensor_bytes(flat)
    step = len(rows) // max(n, 1)
    out = []
    for i in range(n):
        h = hashlib.blake2b(rows[i * step:(i + 1) * step], digest_size=16)
        if tags is not None:
            h.update(repr(tags[i]).encode())
        out.append(h.digest())
    return out


# ----------------------------------------------------------------------
# record structure: nested tuples / lists / dicts of tensors
Spec = tuple


def _flatten(obj: Any, n: int, leaves: List[torch.Tensor]) -> Spec:
    """Structure of ``obj``; its per-sample tensors are appended to
    ``leaves`` (first dimension ``n``), anything else kept in the spec."""
    if isinstance(obj, torch.Tensor):
        if obj.dim() >= 1 and obj.shape[0] == n:
            leaves.append(obj.detach())
            return ('leaf', len(leaves) - 1)
        return ('const', obj.detach().cpu().clone())
    if isinstance(obj, (tuple, list)):
        return ('seq', type(obj), tuple(_flatten(v, n, leaves) for v in obj))
    if isinstance(obj, dict):
        return ('dict', type(obj),
                tuple((k, _flatten(v, n, leaves)) for k, v in obj.items()))
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return ('const', obj)
    raise TypeError('teacher_cache cannot store a recorded '
                    f'{type(obj).__name__}; only tensors in tuples / lists / '
                    'dicts')


def _unflatten(spec: Spec, leaves: List[torch.Tensor],
               device: torch.device) -> Any:
    kind = spec[0]
    if kind == 'leaf':
        return leaves[spec[1]]
    if kind == 'const':
        value = spec[1]
        return value.to(device) if isinstance(value, torch.Tensor) else value
    if kind == 'seq':
        items = [_unflatten(s, leaves, device) for s in spec[2]]
        cls = spec[1]
        return cls(*items) if hasattr(cls, '_fields') else cls(items)
    return spec[1]((k, _unflatten(s, leaves, device)) for k, s in spec[2])


def _same_spec(a: Spec, b: Spec) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == 'leaf':
        return a[1] == b[1]
    if a[0] == 'const':
        if isinstance(a[1], torch.Tensor) or isinstance(b[1], torch.Tensor):
            return (isinstance(a[1], torch.Tensor)
                    and isinstance(b[1], torch.Tensor)
                    and a[1].shape == b[1].shape and torch.equal(a[1], b[1]))
        return a[1] == b[1]
    if a[1] != b[1] or len(a[2]) != len(b[2]):
        return False
    if a[0] == 'seq':
        return all(_same_spec(x, y) for x, y in zip(a[2], b[2]))
    return all(ka == kb and _same_spec(x, y)
               for (ka, x), (kb, y) in zip(a[2], b[2]))


Entry = Tuple[bytes, List[torch.Tensor]]  # (digest, per-sample leaves)


# ----------------------------------------------------------------------
# storage
class _MemoryStore:
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


class _DiskStore:
    """Rows ``[sample_idx]`` of ``.npy`` memory maps in ``root``.

    Layout: ``index.npy`` ``(cap, 21)`` uint8 (byte 0: filled, 1..16: the
    input digest, 17..20: CRC-32 of the row, :func:`row_crc`),
    ``leaf{k}.npy`` ``(cap, *shape_k)`` per recorded tensor, ``meta.pt``
    the structure, shapes and dtypes as plain data (read with
    ``weights_only=True``; :mod:`.teacher_cache_files`).

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
            meta, _FORMAT, self.root, _NP_DTYPES)
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
        save_meta(osp.join(self.root, 'meta.pt'), _FORMAT, spec, shapes,
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


# ----------------------------------------------------------------------
class TeacherCache:
    """Serve a frozen teacher's records and output per sample.

    ``CrossModalDistill`` builds it from its ``teacher_cache`` dict and calls
    :meth:`__call__` instead of the teacher's forward. See the module
    docstring for what is stored and how the key is formed.

    Args:
        teacher_modality (str): The teacher's results key (``'audio'``).
        pipeline (Sequence[dict]): The training data set's pipeline (both
            modalities; ``train_dataloader.dataset.pipeline``). Required:
            the cache must know whether the teacher's input is
            deterministic.
        type (str): ``'memory'`` or ``'disk'``. Defaults to ``'memory'``.
        dir (str, optional): Root of a disk cache; the cache of one key is
            ``{dir}/{key}/rank{r}``. Defaults to None:
            ``work_dirs/teacher_cache`` (shared by the runs of a checkout,
            one folder per teacher and pipeline).
        fixed_view (bool): Allow a random teacher-side pipeline and cache
            the first view of each sample: the teacher then sees ONE
            augmentation per sample for the whole run. Defaults to False.
        verify_inputs (bool): Compare each hit's input digest with the
            cached one (not with ``fixed_view``). Defaults to True.

    Raises:
        ValueError: on a bad ``type``, a missing ``pipeline``, or a random
            teacher-side transform without ``fixed_view`` (naming it).
    """

    def __init__(self,
                 teacher_modality: str,
                 pipeline: Optional[Sequence[Transform]] = None,
                 type: str = 'memory',
                 dir: Optional[str] = None,
                 fixed_view: bool = False,
                 verify_inputs: bool = True) -> None:
        if type not in CACHE_TYPES:
            raise ValueError(f'teacher_cache type={type!r} must be one of '
                             f'{CACHE_TYPES}')
        if dir is not None and type != 'disk':
            raise ValueError(f"teacher_cache dir={dir!r} needs type='disk'")
        if pipeline is None or isinstance(pipeline, (str, dict)):
            raise ValueError(
                f'teacher_cache pipeline={pipeline!r} must be the training '
                'pipeline (a list of transforms, e.g. '
                'pipeline=_base_.train_pipeline): the cache must check that '
                f'the teacher modality {teacher_modality!r} is deterministic')
        randoms = random_transforms(pipeline, teacher_modality)
        if randoms and not fixed_view:
            raise ValueError(
                f'teacher_cache: the teacher modality {teacher_modality!r} '
                'goes through random transform(s) of the pipeline: '
                f'{"; ".join(randoms)}. A cache would serve one random view '
                'forever. Set teacher_cache.fixed_view=True to cache the '
                'first view of each sample (the teacher then sees one '
                'augmentation per sample), or make the teacher-side '
                'transforms deterministic (e.g. test_mode=True)')
        self.teacher_modality = teacher_modality
        self.type = type
        self.dir = DEFAULT_DISK_DIR if dir is None else dir
        self.fixed_view = bool(fixed_view)
        self.verify_inputs = bool(verify_inputs) and not self.fixed_view
        self.random_transforms = randoms
        self._pipeline_cfg = [(name, args) for _, name, args in
                              teacher_transforms(pipeline, teacher_modality)]
        self.key: Optional[str] = None
        self.store: Union[_MemoryStore, _DiskStore, None] = None
        # statistics: samples served / computed, teacher forwards run
        self.hits = 0
        self.misses = 0
        self.forwards = 0

    # ------------------------------------------------------------------
    def config_digest(self, teacher: torch.nn.Module,
                      recorders: Any) -> str:
        """Hash of everything but the weights that shapes a cached value."""
        desc = dict(
            format=_FORMAT,
            teacher=type(teacher).__name__,
            modality=self.teacher_modality,
            fixed_view=self.fixed_view,
            recorders={
                name: [type(rec).__name__, getattr(rec, 'source', None)]
                for name, rec in sorted(recorders.recorders.items())
            },
            pipeline=self._pipeline_cfg)
        text = json.dumps(desc, sort_keys=True, default=repr)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def open(self, teacher: torch.nn.Module, recorders: Any) -> str:
        """Form the key from the teacher's current weights; open storage."""
        h = hashlib.blake2b(digest_size=12)
        h.update(self.config_digest(teacher, recorders).encode())
        h.update(state_dict_digest(teacher).encode())
        self.key = h.hexdigest()
        self.store = _MemoryStore()
        if self.type == 'disk':
            root = osp.join(self.dir, self.key, f'rank{get_rank()}')
            try:
                self.store = _DiskStore(root)
            except OSError as err:
                warnings.warn(f'teacher_cache: {root} is in use by another '
                              f'process ({err}); caching in memory instead')
        return self.key

    def __len__(self) -> int:
        return 0 if self.store is None else len(self.store)

    @staticmethod
    def sample_indices(data_samples: Optional[List[BaseDataElement]],
                       n: int) -> List[int]:
        """``sample_idx`` of each sample; a clear error when absent."""
        got = len(data_samples) if data_samples else 0
        if got != n:
            raise ValueError('teacher_cache needs one data sample per input '
                             f'(got {got} for a batch of {n})')
        out = []
        for sample in data_samples:
            idx = sample.metainfo.get('sample_idx')
            if idx is None:
                raise ValueError(
                    "teacher_cache needs data_samples[i].sample_idx: keep "
                    "'sample_idx' in PackMultiModalInputs(meta_keys=...)")
            out.append(int(idx))
        return out

    # ------------------------------------------------------------------
    def __call__(self, teacher: torch.nn.Module, recorders: Any,
                 inputs: torch.Tensor,
                 data_samples: Optional[List[BaseDataElement]],
                 forward: Callable[[torch.Tensor, list], Any]) -> Any:
        """The teacher's output, its records left in ``recorders``.

        ``forward(inputs, data_samples)`` runs the teacher under
        ``recorders``; it is called on the samples of the batch that are not
        cached yet (none: no call; all: the batch as it is), which are then
        stored. With a partial hit the batch's records are assembled from
        the cached rows and the new ones.

        Raises:
            RuntimeError: ``verify_inputs`` and a cached sample's input
                differs from this visit's.
        """
        n = inputs.shape[0]
        indices = self.sample_indices(data_samples, n)
        if self.store is None:
            self.open(teacher, recorders)
        tags = [s.metainfo.get('clip_id') for s in data_samples]
        digests = (input_digests(inputs, tags) if self.verify_inputs else
                   [hashlib.blake2b(repr(t).encode(), digest_size=16).digest()
                    for t in tags])
        cached = [self.store.get(i) for i in indices]
        for idx, digest, entry in zip(indices, digests, cached):
            if entry is not None and entry[0] != digest:
                raise RuntimeError(
                    f'teacher_cache: the input of sample {idx} differs from '
                    'the one cached for it, so the teacher-side pipeline is '
                    'not deterministic (or, for a disk cache, the data set '
                    f'changed: remove {self.dir}/{self.key}); set '
                    'fixed_view=True to serve the first view')
        miss = [j for j, entry in enumerate(cached) if entry is None]
        self.hits += n - len(miss)
        self.misses += len(miss)
        device = inputs.device
        if miss:
            self.forwards += 1
            if len(miss) == n:
                output = forward(inputs, data_samples)
            else:  # the teacher on the new samples only
                output = forward(
                    inputs.index_select(0, torch.tensor(miss,
                                                        device=device)),
                    [data_samples[j] for j in miss])
            state = dict(output=output, records=self._records(recorders))
            leaves: List[torch.Tensor] = []
            spec = _flatten(state, len(miss), leaves)
            if self.store.spec is None:
                rows = [t[0].cpu() for t in leaves]
                if isinstance(self.store, _DiskStore):
                    self.store.set_spec(spec, rows)
                else:
                    self.store.set_spec(spec)
            elif not _same_spec(spec, self.store.spec):
                raise RuntimeError(
                    'teacher_cache: the teacher recorded a differently '
                    'structured result (or a non-per-sample value changed) '
                    'from one batch to the next; it cannot be cached')
            cpu = [t.cpu() for t in leaves]
            for k, j in enumerate(miss):
                row = [t[k].clone() for t in cpu]  # (...) per sample
                self.store.put(indices[j], digests[j], row)
                cached[j] = (digests[j], row)
            if len(miss) == n:
                return output  # the records are the batch's already
        state = self._assemble([entry[1] for entry in cached], device)
        self._set_records(recorders, state['records'])
        return state['output']

    @staticmethod
    def _records(recorders: Any) -> Dict[str, list]:
        return {
            name: list(rec.data_buffer)
            for name, rec in recorders.recorders.items()
        }

    @staticmethod
    def _set_records(recorders: Any, records: Dict[str, list]) -> None:
        for name, rec in recorders.recorders.items():
            rec.reset_data_buffer()
            rec.data_buffer.extend(records[name])

    def _assemble(self, rows: List[List[torch.Tensor]],
                  device: torch.device) -> dict:
        leaves = [
            torch.stack([row[k] for row in rows]).to(device)
            for k in range(len(rows[0]))
        ]
        return _unflatten(self.store.spec, leaves, device)

    def flush(self) -> None:
        """Write a disk cache's dirty pages (also done by the OS)."""
        if isinstance(self.store, _DiskStore):
            self.store.flush()

    def close(self) -> None:
        """Flush and release the storage; the next batch reopens it."""
        if isinstance(self.store, _DiskStore):
            self.store.close()
        self.store = None

    def __getstate__(self) -> dict:
        """A copy (``copy.deepcopy`` of the model, pickling) starts empty
        and reopens its storage on first use: open files and locks are not
        copied."""
        state = dict(self.__dict__)
        state.update(store=None, key=None)
        return state

    def __repr__(self) -> str:
        return (f'TeacherCache(type={self.type!r}, key={self.key}, '
                f'samples={len(self)}, hits={self.hits}, '
                f'misses={self.misses}, forwards={self.forwards})')
