"""The files of a disk teacher cache (``TeacherCache(type='disk')``): a meta
file read without running code, per-row checksums, atomic replacement.

``meta.pt`` is written by ``torch.save`` and read back with
``torch.load(weights_only=True)``; it holds only tensors, plain containers,
``str``, ``int``, ``bool``, ``float`` and ``None``: the record structure
(:func:`encode_spec`) names its container classes as ``'module:qualname'``
strings, resolved on reading only to ``tuple`` / ``list`` / ``dict``
subclasses of modules already imported (nothing is imported, nothing but a
container is called). Dtypes are their names (``'float32'``).

What happens to a file that is not as written (see :class:`CacheDamaged`,
:class:`UnsafeCacheFile`):

- a ``meta.pt`` that ``weights_only`` refuses because it names a Python
  global (a crafted pickle; the cache never writes one) is an error naming
  the file, and the folder is left as it is for inspection;
- anything else that cannot be read as written (a truncated, empty or
  garbled meta, a meta of another structure, a truncated or missing
  ``index.npy`` / ``leaf{k}.npy``, rows or shapes that disagree) raises
  :class:`CacheDamaged`, and the store rebuilds the folder with a warning:
  a cache only saves time, so nothing is lost but the teacher's forward
  passes.
"""
import os
import os.path as osp
import pickle
import re
import sys
import warnings
import zlib
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch

__all__ = [
    'CacheDamaged', 'UnsafeCacheFile', 'encode_spec', 'decode_spec',
    'save_meta', 'load_meta', 'row_crc', 'atomic_torch_save'
]


class CacheDamaged(Exception):
    """A cache file is not as the cache wrote it; the folder is rebuilt."""


class UnsafeCacheFile(RuntimeError):
    """A cache meta file that would need code to load: never loaded."""


# ----------------------------------------------------------------------
# record structure <-> plain data
def _class_name(cls: type) -> str:
    return f'{cls.__module__}:{cls.__qualname__}'


_PLAIN = {_class_name(c): c for c in (tuple, list, dict)}
_CONST_TYPES = (type(None), bool, int, float, str)


def _class_of(name: Any) -> type:
    """The container class ``name`` names, without importing anything."""
    if not isinstance(name, str) or ':' not in name:
        raise CacheDamaged(f'container class {name!r} is not module:name')
    if name in _PLAIN:
        return _PLAIN[name]
    module, qualname = name.split(':', 1)
    obj: Any = sys.modules.get(module)
    for part in qualname.split('.'):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and issubclass(obj, (tuple, list, dict))):
        raise CacheDamaged(f'container class {name} is not a tuple / list / '
                           'dict class of an imported module')
    return obj


def encode_spec(spec: tuple) -> tuple:
    """A record structure (``teacher_cache._flatten``) as plain data."""
    kind = spec[0]
    if kind in ('leaf', 'const'):
        value = spec[1]
        if kind == 'const' and not isinstance(value,
                                              (torch.Tensor, *_CONST_TYPES)):
            raise TypeError(f'teacher_cache type=disk cannot store the '
                            f'constant {value!r} (use type=memory)')
        return spec
    if kind == 'seq':
        return (kind, _class_name(spec[1]),
                tuple(encode_spec(s) for s in spec[2]))
    for key, _ in spec[2]:
        if not isinstance(key, _CONST_TYPES):
            raise TypeError(f'teacher_cache type=disk cannot store the dict '
                            f'key {key!r} (use type=memory)')
    return (kind, _class_name(spec[1]),
            tuple((k, encode_spec(s)) for k, s in spec[2]))


def decode_spec(data: Any) -> tuple:
    """Inverse of :func:`encode_spec`; :class:`CacheDamaged` on bad data."""
    if not isinstance(data, tuple) or len(data) not in (2, 3):
        raise CacheDamaged(f'bad record structure node {data!r:.80}')
    kind = data[0]
    if kind == 'leaf' and len(data) == 2 and isinstance(data[1], int):
        return data
    if kind == 'const' and len(data) == 2 and isinstance(
            data[1], (torch.Tensor, *_CONST_TYPES)):
        return data
    if kind in ('seq', 'dict') and len(data) == 3 and isinstance(
            data[2], tuple):
        cls = _class_of(data[1])
        if kind == 'seq':
            return (kind, cls, tuple(decode_spec(s) for s in data[2]))
        if all(isinstance(p, tuple) and len(p) == 2 for p in data[2]):
            return (kind, cls, tuple((k, decode_spec(s)) for k, s in data[2]))
    raise CacheDamaged(f'bad record structure node {data!r:.80}')


def _leaf_count(spec: tuple) -> int:
    if spec[0] == 'leaf':
        return spec[1] + 1
    if spec[0] == 'const':
        return 0
    children = spec[2] if spec[0] == 'seq' else [s for _, s in spec[2]]
    return max([_leaf_count(s) for s in children], default=0)


# ----------------------------------------------------------------------
# meta.pt
def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save`` to ``path.tmp``, fsync, then rename over ``path``: a
    reader sees the old file or the whole new one, never a part."""
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_meta(path: str, fmt: int, spec: tuple,
              shapes: Sequence[Tuple[int, ...]],
              dtypes: Sequence[torch.dtype]) -> None:
    """Write ``meta.pt`` atomically, as plain data only."""
    atomic_torch_save(
        dict(format=fmt, spec=encode_spec(spec),
             shapes=[[int(d) for d in s] for s in shapes],
             dtypes=[str(d).replace('torch.', '') for d in dtypes]), path)


def load_meta(path: str, fmt: int, root: str,
              np_dtypes: Dict[torch.dtype, Any]
              ) -> Tuple[tuple, List[Tuple[int, ...]], List[torch.dtype]]:
    """``(spec, shapes, dtypes)`` of a ``meta.pt``, read without pickle code.

    Raises:
        UnsafeCacheFile: the file names a Python global (code).
        CacheDamaged: it cannot be read or is not a meta of format ``fmt``.
    """
    try:
        with warnings.catch_warnings():  # 'Detected pickle protocol 4'
            warnings.simplefilter('ignore', UserWarning)
            info = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'GLOBAL [^\s]+', str(err))
        if found:
            raise UnsafeCacheFile(
                f'teacher_cache: refused to load {path}: it needs the Python '
                f'{found.group(0)}, which a teacher cache never writes (the '
                'file may have been tampered with), and loading it could run '
                'code. Delete the cache folder to rebuild it: '
                f'rm -r {root}') from None
        why = re.search(r'Unsupported[^\n]*', str(err))
        raise CacheDamaged(f'{path} is not a meta file of plain data '
                           f'({why.group(0) if why else "unpickling"})')
    except Exception as err:  # truncated zip, empty file, ...
        raise CacheDamaged(f'{path} cannot be read ({type(err).__name__}: '
                           f'{str(err).split(". ")[0]:.100})')
    if not isinstance(info, dict) or info.get('format') != fmt:
        raise CacheDamaged(f'{path} is not a format-{fmt} teacher cache meta')
    try:
        spec = decode_spec(info['spec'])
        shapes = [tuple(int(d) for d in s) for s in info['shapes']]
        dtypes = [getattr(torch, name) for name in info['dtypes']]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CacheDamaged(f'{path} misses or garbles a field ({err!r})')
    if any(d not in np_dtypes for d in dtypes):
        raise CacheDamaged(f'{path} names an unsupported dtype {dtypes}')
    if not len(shapes) == len(dtypes) == _leaf_count(spec):
        raise CacheDamaged(f'{path}: {len(shapes)} shapes, {len(dtypes)} '
                           f'dtypes, {_leaf_count(spec)} recorded tensors')
    return spec, shapes, dtypes


# ----------------------------------------------------------------------
def row_crc(idx: int, digest: bytes, rows: Sequence[np.ndarray]) -> int:
    """CRC-32 of a row: its index, input digest and every leaf's bytes.

    ``rows`` are C-contiguous arrays (a memory map's ``arr[idx:idx + 1]``
    or a copy of ``arr[idx]``); no bytes are copied."""
    crc = zlib.crc32(digest, zlib.crc32(idx.to_bytes(8, 'little')))
    for row in rows:
        crc = zlib.crc32(np.ascontiguousarray(row).reshape(-1).view(np.uint8),
                         crc)
    return crc


def check_mmap(path: str, dtype: Any, row_shape: Tuple[int, ...],
               min_rows: int = 0) -> np.ndarray:
    """Memory-map an ``.npy`` file and check its dtype and row shape.

    Raises:
        CacheDamaged: missing, truncated, or of another dtype / shape /
            fewer than ``min_rows`` rows.
    """
    name = osp.basename(path)
    try:
        with open(path, 'rb') as f:  # np.memmap 'r+' would zero-extend a
            version = np.lib.format.read_magic(f)  # truncated file
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dt = read(f)
            need = f.tell() + int(np.prod(shape)) * dt.itemsize
        size = os.path.getsize(path)
        if size < need:
            raise ValueError(f'truncated: {size} of {need} bytes')
        arr = np.load(path, mmap_mode='r+')
    except FileNotFoundError:
        raise CacheDamaged(f'{name} is missing')
    except (ValueError, OSError, EOFError) as err:  # truncated, garbled
        raise CacheDamaged(f'{name} cannot be mapped ({err})')
    if (arr.dtype != np.dtype(dtype) or arr.ndim != 1 + len(row_shape)
            or tuple(arr.shape[1:]) != tuple(row_shape)):
        raise CacheDamaged(f'{name} is {arr.dtype} {arr.shape}, expected '
                           f'{np.dtype(dtype)} (rows, *{tuple(row_shape)})')
    if arr.shape[0] < min_rows:
        raise CacheDamaged(f'{name} has {arr.shape[0]} rows, fewer than the '
                           f'{min_rows} of index.npy')
    return arr
