"""Compute a frozen teacher's recorded features once per sample, then serve
them from a cache (``CrossModalDistill(teacher_cache=...)``).

A frozen teacher maps the same input to the same features on every epoch;
when the teacher modality's pipeline is deterministic its input is the same
too, so its forward pass needs to run only on the first epoch. The cache
stores, per sample:

- every entry of every teacher recorder's ``data_buffer`` (each record
  sliced along the batch dimension),
- the teacher's ``'tensor'``-mode output (the logits of a classifier),
- a 16-byte digest of the teacher's input (:func:`.digest.input_digests`),

keyed by ``data_samples[i].sample_idx`` (MMEngine's ``BaseDataset`` sets it,
``fdkd.PackMultiModalInputs`` keeps it as metainfo) inside a cache key that
hashes the teacher's weights (its whole ``state_dict``, read when the first
batch arrives, i.e. after any checkpoint loading) with the teacher-side part
of the pipeline config, the recorders and ``fixed_view``. A changed
checkpoint or pipeline is therefore a new key: nothing stale is served.

Which transforms touch the teacher modality and which of them are random
is decided by :mod:`.pipeline_check` (each transform declares it).

A random teacher-side transform is refused unless ``fixed_view=True``:
then the first view drawn for each sample is cached and the teacher sees
that one augmentation of the sample for the whole run. A transform drawn
once for both modalities (the joint random crop and flip of RGB-D
segmentation) is then no longer shared: the student's view and the cached
teacher view of a sample differ, which misaligns dense (map) features;
pooled classification features only lose augmentation. ``views=K``
keeps K views per sample (the first K visits compute them, later visits
serve them in turn): K augmentations per sample at the cost of K teacher
epochs.

Without ``fixed_view`` the digest of each cached sample's input is compared
with the input of every later visit, so a random transform the pipeline check
misses (or a data set that changed under a disk cache) is an error, never a
silently stale feature.

Limits: a distiller with ``distill_deliveries`` (they replay teacher
outputs through the student's forward) cannot be cached; a recorded value
that is not per sample (its first dimension is not the batch size) is
stored once and must stay identical on every batch; the teacher must be in
eval mode, as ``CrossModalDistill.train()`` keeps a frozen one (batch
statistics would make a sample's feature depend on its batch).
"""
import hashlib
import json
import os.path as osp
import warnings
from typing import Any, Callable, List, Optional, Sequence, Union

import torch
from mmengine.dist import get_rank
from mmengine.structures import BaseDataElement

from .digest import input_digests, state_dict_digest
from .pipeline_check import Transform, random_transforms, teacher_transforms
from .records import flatten, same_spec, unflatten
from .store import FORMAT, DiskStore, MemoryStore

__all__ = ['TeacherCache', 'CACHE_TYPES', 'DEFAULT_DISK_DIR']

CACHE_TYPES = ('memory', 'disk')
#: ``precision`` choices: the dtype floating records are stored in
PRECISIONS = {'float32': None, 'float16': torch.float16,
              'bfloat16': torch.bfloat16}
DEFAULT_DISK_DIR = osp.join('work_dirs', 'teacher_cache')


class TeacherCache:
    """Serve a frozen teacher's records and output per sample.

    ``CrossModalDistill`` builds it from its ``teacher_cache`` dict, opens
    it on the first batch and asks :meth:`fetch` for the teacher's output
    and records instead of running the teacher; it records and replays
    the records itself. See the module
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
        views (int): With ``fixed_view``, the number of views kept per
            sample: visits ``1..views`` of a sample each compute and store
            the view they drew, later visits serve them in turn (visit
            ``j`` serves view ``(j - 1) % views``), so the teacher sees
            ``views`` augmentations per sample at the cost of ``views``
            teacher epochs. Defaults to 1.
        verify_inputs (bool): Compare each hit's input digest with the
            cached one (not with ``fixed_view``). Defaults to True.
        precision (str): The dtype floating records are stored in:
            ``'float32'`` (as recorded, default), ``'float16'`` or
            ``'bfloat16'`` (half the memory / disk; served back as float32,
            on every epoch including the first, so all epochs see the same
            values). ``benchmarks/teacher_cache.py`` measures the error
            this puts into FDKD's losses.
        skip_inputs (bool): Stop loading the teacher's input for an epoch
            whose every sample is cached (and, with ``verify_inputs``,
            verified once against a second visit): the loader's workers then
            skip the teacher-only transforms (:mod:`.input_skip`, switched
            by ``fdkd.TeacherInputSkipHook`` of the default runtime). Off by
            itself for a random teacher-side pipeline and with ``views >
            1``. Defaults to True.

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
                 verify_inputs: bool = True,
                 precision: str = 'float32',
                 views: int = 1,
                 skip_inputs: bool = True) -> None:
        if type not in CACHE_TYPES:
            raise ValueError(f'teacher_cache type={type!r} must be one of '
                             f'{CACHE_TYPES}')
        if int(views) != views or views < 1:
            raise ValueError(f'teacher_cache views={views!r} must be an '
                             'integer >= 1')
        if views > 1 and not fixed_view:
            raise ValueError(f'teacher_cache views={views} keeps several '
                             'random views of each sample: it needs '
                             'fixed_view=True')
        if precision not in PRECISIONS:
            raise ValueError(f'teacher_cache precision={precision!r} must be '
                             f'one of {tuple(PRECISIONS)}')
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
        self.precision = precision
        self.views = int(views)
        self._visits: dict = {}  # sample index -> visits so far (views > 1)
        self._store_dtype = PRECISIONS[precision]
        self.verify_inputs = bool(verify_inputs) and not self.fixed_view
        self.random_transforms = randoms
        self._pipeline_cfg = [(name, args) for _, name, args in
                              teacher_transforms(pipeline, teacher_modality)]
        self.skip_inputs = bool(skip_inputs) and self.views == 1
        #: samples whose cached input digest a later visit has matched
        self.verified: set = set()
        self.key: Optional[str] = None
        self.store: Union[MemoryStore, DiskStore, None] = None
        # statistics: samples served / computed, teacher forwards run
        self.hits = 0
        self.misses = 0
        self.forwards = 0

    # ------------------------------------------------------------------
    def config_digest(self, teacher: torch.nn.Module,
                      recorders: Any) -> str:
        """Hash of everything but the weights that shapes a cached value."""
        desc = dict(
            format=FORMAT,
            teacher=type(teacher).__name__,
            modality=self.teacher_modality,
            fixed_view=self.fixed_view,
            precision=self.precision,
            views=self.views,
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
        self.store = MemoryStore()
        if self.type == 'disk':
            root = osp.join(self.dir, self.key, f'rank{get_rank()}')
            try:
                self.store = DiskStore(root)
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
    def serves(self, indices: Sequence[int]) -> bool:
        """Whether every sample of ``indices`` can be served without its
        input: cached, and with ``verify_inputs`` verified once (a later
        visit matched the cached input's digest)."""
        if self.store is None:
            return False
        if self.verify_inputs:
            return all(int(i) in self.verified for i in indices)
        return all(self.store.get(int(i)) is not None for i in indices)

    def fetch(self, inputs: Optional[torch.Tensor],
              data_samples: Optional[List[BaseDataElement]],
              compute: Callable[[torch.Tensor, list], Any],
              device: Optional[torch.device] = None) -> Any:
        """The teacher's state (output and records) for the batch.

        ``compute(inputs, data_samples)`` runs the teacher and returns its
        state, any nesting of tuples / lists / dicts of tensors with one
        row per sample (``CrossModalDistill``: ``dict(output=...,
        records={recorder: data_buffer})``); it is called on the samples
        of the batch that are not cached yet (none: no call; all: the batch
        as it is), which are then stored. With a partial hit the batch's
        state is assembled from the cached rows and the new ones. Open the
        cache (:meth:`open`) first.

        ``inputs`` is None when the batch carries no teacher input
        (``skip_inputs``): every sample must then be cached, and the rows
        go to ``device``.

        Raises:
            RuntimeError: ``verify_inputs`` and a cached sample's input
                differs from this visit's; no ``inputs`` and a sample is not
                cached.
        """
        n = len(data_samples or ()) if inputs is None else inputs.shape[0]
        indices = self._view_keys(self.sample_indices(data_samples, n))
        if self.store is None:
            raise RuntimeError('TeacherCache.fetch before open(teacher, '
                               'recorders)')
        cached = [self.store.get(i) for i in indices]
        if inputs is None:
            return self._serve_without_inputs(indices, cached, device)
        tags = [s.metainfo.get('clip_id') for s in data_samples]
        digests = (input_digests(inputs, tags) if self.verify_inputs else
                   [hashlib.blake2b(repr(t).encode(), digest_size=16).digest()
                    for t in tags])
        for idx, digest, entry in zip(indices, digests, cached):
            if entry is not None and entry[0] != digest:
                raise RuntimeError(
                    f'teacher_cache: the input of sample {idx} differs from '
                    'the one cached for it, so the teacher-side pipeline is '
                    'not deterministic (or, for a disk cache, the data set '
                    f'changed: remove {self.dir}/{self.key}); set '
                    'fixed_view=True to serve the first view')
            if entry is not None and self.verify_inputs:
                self.verified.add(idx)
        miss = [j for j, entry in enumerate(cached) if entry is None]
        self.hits += n - len(miss)
        self.misses += len(miss)
        device = inputs.device
        if miss:
            self.forwards += 1
            if len(miss) == n:
                state = compute(inputs, data_samples)
            else:  # the teacher on the new samples only
                state = compute(
                    inputs.index_select(0, torch.tensor(miss,
                                                        device=device)),
                    [data_samples[j] for j in miss])
            leaves: List[torch.Tensor] = []
            spec = flatten(state, len(miss), leaves)
            leaves = [self._stored(t) for t in leaves]
            if self.store.spec is None:
                rows = [t[0].cpu() for t in leaves]
                if isinstance(self.store, DiskStore):
                    self.store.set_spec(spec, rows)
                else:
                    self.store.set_spec(spec)
            elif not same_spec(spec, self.store.spec):
                raise RuntimeError(
                    'teacher_cache: the teacher recorded a differently '
                    'structured result (or a non-per-sample value changed) '
                    'from one batch to the next; it cannot be cached')
            cpu = [t.cpu() for t in leaves]
            for k, j in enumerate(miss):
                row = [t[k].clone() for t in cpu]  # (...) per sample
                self.store.put(indices[j], digests[j], row)
                cached[j] = (digests[j], row)
            if len(miss) == n and self._store_dtype is None:
                return state  # the batch's own
        return self._assemble([entry[1] for entry in cached], device)

    def _serve_without_inputs(self, indices: List[int], cached: list,
                              device: Optional[torch.device]) -> Any:
        """The batch from its cached rows alone (no teacher input)."""
        missing = [i for i, entry in zip(indices, cached) if entry is None]
        if missing:
            raise RuntimeError(
                f'teacher_cache: the batch holds no {self.teacher_modality!r}'
                f' input, and samples {missing[:8]} are not cached: the '
                'teacher cannot run. The pipeline must pack the teacher '
                'modality (fdkd.TeacherInputSkipHook leaves it out only for '
                'an epoch whose every sample is cached)')
        self.hits += len(indices)
        return self._assemble([entry[1] for entry in cached],
                              device or torch.device('cpu'))

    def _view_keys(self, indices: List[int]) -> List[int]:
        """Storage keys: the sample index, or with ``views > 1``
        ``index * views + view`` of the view this visit serves."""
        if self.views == 1:
            return indices
        keys = []
        for idx in indices:
            visit = self._visits.get(idx, 0)
            self._visits[idx] = visit + 1
            keys.append(idx * self.views + visit % self.views)
        return keys

    def _stored(self, t: torch.Tensor) -> torch.Tensor:
        """A record as it is stored (floating ones in ``precision``)."""
        if self._store_dtype is None or not t.is_floating_point():
            return t
        return t.to(self._store_dtype)

    def _assemble(self, rows: List[List[torch.Tensor]],
                  device: torch.device) -> dict:
        leaves = [
            torch.stack([row[k] for row in rows]).to(device)
            for k in range(len(rows[0]))
        ]
        if self._store_dtype is not None:  # served as float32
            leaves = [
                t.float() if t.dtype == self._store_dtype else t
                for t in leaves
            ]
        return unflatten(self.store.spec, leaves, device)

    def flush(self) -> None:
        """Write a disk cache's dirty pages (also done by the OS)."""
        if isinstance(self.store, DiskStore):
            self.store.flush()

    def close(self) -> None:
        """Flush and release the storage; the next batch reopens it."""
        if isinstance(self.store, DiskStore):
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
