"""The teacher cache (``CrossModalDistill(teacher_cache=...)``): a frozen
teacher's output and records computed once per sample, then served.

- :mod:`.pipeline_check`: is the teacher's input deterministic (each
  transform declares what it writes and whether it draws at random);
- :mod:`.digest`: the digests of the teacher's weights and of each input;
- :mod:`.records`: a state (nested containers of tensors) to per-sample
  rows and back;
- :mod:`.store` and :mod:`.files`: rows per ``sample_idx`` in memory or in
  checked memory maps on disk;
- :mod:`.cache`: :class:`TeacherCache`, the key, the checks and the
  statistics. The algorithm records and replays the teacher's records; the
  cache only stores and serves what it is given.
"""
from .cache import CACHE_TYPES, DEFAULT_DISK_DIR, TeacherCache
from .digest import input_digests, state_dict_digest
from .pipeline_check import random_transforms, teacher_transforms
from .records import flatten as _flatten
from .store import _NP_DTYPES, FORMAT, DiskStore, MemoryStore

# the names of the single-module version (tests, fault injection)
_FORMAT, _DiskStore, _MemoryStore = FORMAT, DiskStore, MemoryStore

__all__ = [
    'TeacherCache', 'CACHE_TYPES', 'DEFAULT_DISK_DIR', 'teacher_transforms',
    'random_transforms', 'input_digests', 'state_dict_digest', 'DiskStore',
    'MemoryStore', 'FORMAT'
]
