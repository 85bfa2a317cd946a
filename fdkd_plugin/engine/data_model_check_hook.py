"""Check that the data fit the model before the first training step."""
import math
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fdkd_plugin.registry import HOOKS

__all__ = ['DataModelCheckHook']

#: (config key of a network, the network)
Network = Tuple[str, nn.Module]


def _networks(model: nn.Module) -> Tuple[List[Network], Dict[str, str],
                                          Dict[str, str]]:
    """The networks with heads, and the modalities the model reads.

    Returns:
        tuple: ``[(key, network)]``; ``{config key: modality}`` read in
        training; the same for validation (students only, teachers too
        where the val loop evaluates them: added by the caller).
    """
    from fdkd_plugin.models.algorithms import (BidirectionalCrossModalDistill,
                                               CrossModalDistill)
    if isinstance(model, BidirectionalCrossModalDistill):
        algorithms = list(model.directions.values())
    elif isinstance(model, CrossModalDistill):
        algorithms = [model]
    else:
        modality = getattr(model.data_preprocessor, 'modality', None)
        used = {} if not isinstance(modality, str) else {
            'model.data_preprocessor.modality': modality
        }
        return [('model', model)], used, {}
    networks, used, teachers = [], {}, {}
    for algo in algorithms:
        p = algo.cfg_prefix
        networks += [(f'{p}.architecture', algo.student),
                     (f'{p}.teacher', algo.teacher)]
        used[f'{p}.student_modality'] = algo.student_modality
        teachers[f'{p}.teacher_modality'] = algo.teacher_modality
    return networks, used, teachers


def _leaves(dataset) -> list:
    """The data sets inside MMEngine's dataset wrappers."""
    if hasattr(dataset, 'datasets'):  # ConcatDataset
        return [leaf for d in dataset.datasets for leaf in _leaves(d)]
    if hasattr(dataset, 'dataset') and not hasattr(dataset, 'pipeline'):
        return _leaves(dataset.dataset)  # RepeatDataset, ClassBalanced...
    return [dataset]


def _packed(dataset) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """``(transform name, modalities)`` of the pipeline's packing step."""
    found = None
    for t in getattr(getattr(dataset, 'pipeline', None), 'transforms', []):
        if type(t).__name__.startswith('Pack') and hasattr(t, 'modalities'):
            found = (type(t).__name__, tuple(t.modalities))
    return found


def _train_batches(loader) -> Tuple[Optional[int], bool, List[int]]:
    """``batch_size``, ``drop_last`` and the samples of each process per
    epoch (empty: an infinite sampler, every batch is full)."""
    batch_size, drop_last = loader.batch_size, loader.drop_last
    sampler = loader.sampler
    if batch_size is None:  # a batch_sampler was given
        batch_sampler = loader.batch_sampler
        batch_size = getattr(batch_sampler, 'batch_size', None)
        drop_last = bool(getattr(batch_sampler, 'drop_last', False))
        sampler = getattr(batch_sampler, 'sampler', sampler)
    if not hasattr(sampler, '__len__') or type(sampler).__name__.startswith(
            'Infinite'):
        return batch_size, drop_last, []
    world = get_world_size()
    total = len(loader.dataset)
    if hasattr(sampler, 'round_up'):  # MMEngine's DefaultSampler
        if sampler.round_up:
            return batch_size, drop_last, [math.ceil(total / world)] * world
        return batch_size, drop_last, [
            math.ceil((total - r) / world) for r in range(world)
        ]
    return batch_size, drop_last, [len(sampler)]


@HOOKS.register_module()
class DataModelCheckHook(Hook):
    """Refuse, before the first training step, data that do not fit the
    model, with an error naming the config keys, the file and the fix.

    ``before_train`` compares the training (and validation) data sets with
    the model built from the config:

    - **classes**: a head (``head.num_classes`` /
      ``decode_head.num_classes`` of every network, both of a
      ``fdkd.CrossModalDistill``) with fewer classes than the data set's
      ``metainfo['classes']``, or a label of the data set (``get_gt_labels``)
      outside ``[0, num_classes)``, is an error naming the ``ann_file``, the
      clip and the key (cross-entropy would fail inside torch at the first
      such label: ``IndexError`` on CPU, a device-side assert on CUDA). A
      head with *more* classes than the data set gets one warning.
    - **modalities**: each modality the model reads
      (``student_modality``, ``teacher_modality``,
      ``data_preprocessor.modality``) must be packed by the pipeline's
      ``Pack*(modalities=...)`` step.
    - **a batch of one sample** at a BatchNorm layer in training mode:
      torch cannot compute batch statistics from one value per channel
      (``Expected more than 1 value per channel when training``, raised for
      pooled features and 1x1 maps only; BatchNorm over a larger map trains
      on one sample's statistics). When the data loader can produce a batch
      of 1 (``batch_size=1``, or ``len(dataset)`` over the processes leaves
      a last batch of 1 and ``drop_last=False``), the first training
      iteration records how many values per sample and channel each
      training BatchNorm normalizes; if one normalizes a single value, the
      run stops after that iteration (not at the end of the epoch) with an
      error naming the layer, ``train_dataloader.batch_size`` and
      ``train_dataloader.drop_last``. The remedy is ``drop_last=True`` (at
      most one sample per process and epoch left out), another batch
      size, or frozen norms. ``SyncBatchNorm`` over several processes is
      exempt.

    Every process computes the same verdicts (from the sampler's arithmetic
    for all ranks), so a distributed run stops on every rank together.

    Args:
        check_val (bool): Check the validation data set's classes and
            modalities too. Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, check_val: bool = True) -> None:
        self.check_val = check_val
        self._bn_handles: list = []
        self._bn_single: Dict[str, Tuple[int, ...]] = {}
        self._last_batch_of_one: Optional[str] = None

    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        networks, used, teacher_used = _networks(model)
        loader = runner.train_dataloader
        self._check_dataset(loader.dataset, 'train_dataloader', networks, {
            **used,
            **teacher_used
        })
        val_loop = runner.val_loop if self.check_val else None
        if val_loop is not None and getattr(val_loop, 'dataloader', None):
            val_used = dict(used)
            if getattr(val_loop, '_evaluate_teacher', 'never') != 'never':
                val_used.update(teacher_used)
            self._check_dataset(val_loop.dataloader.dataset,
                                'val_dataloader', networks, val_used)
        self._watch_batch_norm(model, loader)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self._bn_handles:
            return
        for handle in self._bn_handles:
            handle.remove()
        self._bn_handles = []
        if self._last_batch_of_one and self._bn_single:
            name, shape = next(iter(self._bn_single.items()))
            raise ValueError(
                f'{self._last_batch_of_one}, and BatchNorm layer {name} '
                f'normalizes one value per sample and channel (its input in '
                f'the first iteration: {shape}{self._more()}): a batch of 1 '
                "sample cannot train it (torch: 'Expected more than 1 value "
                "per channel when training'). Set "
                'train_dataloader.drop_last=True (leaves that sample out '
                'for the epoch) or choose another train_dataloader.'
                'batch_size')

    # ------------------------------------------------------------------
    def _more(self) -> str:
        more = len(self._bn_single) - 1
        return f'; {more} more such layers' if more > 0 else ''

    def _check_dataset(self, dataset, loader_key: str,
                       networks: Sequence[Network],
                       used: Dict[str, str]) -> None:
        from fdkd_plugin.models.algorithms.model_checks import num_classes_of
        for leaf in _leaves(dataset):
            ann_file = getattr(leaf, 'ann_file', None) or '?'
            where = f'{loader_key}.dataset ({ann_file})'
            packed = _packed(leaf)
            if packed is not None:
                transform, modalities = packed
                for key, wanted in used.items():
                    # a fused teacher reads several modalities
                    missing = [m for m in ((wanted, ) if isinstance(
                        wanted, str) else wanted) if m not in modalities]
                    if missing:
                        modality = missing[0]
                        raise ValueError(
                            f'{key}={modality!r} is not a modality the '
                            f'{loader_key} pipeline packs ({transform}('
                            f'modalities={modalities})): set {key} to one '
                            f'of {list(modalities)}, or add {modality!r} to '
                            'the pipeline')
            classes = (getattr(leaf, 'metainfo', None) or {}).get('classes')
            labels, warned = None, set()
            for net_key, network in networks:
                found = num_classes_of(network)
                if found is None:
                    continue
                n, attr = found
                key = f'{net_key}.{attr}'
                if classes and len(classes) > n:
                    raise ValueError(
                        f'{where} has {len(classes)} classes but {key}={n}: '
                        f'labels {n}..{len(classes) - 1} would index past the '
                        f'head; set {key}={len(classes)} (and every '
                        'num_classes of the model config: heads, distiller) '
                        "or give the data set the model's classes")
                if classes and len(classes) < n and n not in warned:
                    warned.add(n)
                    warnings.warn(
                        f'{key}={n} but {where} has {len(classes)} classes: '
                        f'{n - len(classes)} outputs of the head are never '
                        'trained', UserWarning)
                if labels is None:
                    labels = self._labels(leaf)
                if labels is not None and labels.size and (
                        labels.min() < 0 or labels.max() >= n):
                    i = int(np.flatnonzero((labels < 0) | (labels >= n))[0])
                    info = leaf.get_data_info(i)
                    clip = info.get('clip_id', info.get('img_path', i))
                    raise ValueError(
                        f'{where}: sample {i} ({clip!r}) has label '
                        f'{int(labels[i])}, outside [0, {n}) of {key}={n}; '
                        f'fix the label in {ann_file} or set {key} to the '
                        "data set's class count")

    @staticmethod
    def _labels(dataset) -> Optional[np.ndarray]:
        get = getattr(dataset, 'get_gt_labels', None)
        if get is None:
            return None
        labels = np.asarray(get())
        return labels if labels.dtype.kind in 'iu' else None

    def _watch_batch_norm(self, model: nn.Module, loader) -> None:
        """Arm the first-iteration record of the BatchNorm inputs when a
        batch of 1 can occur."""
        batch_size, drop_last, per_rank = _train_batches(loader)
        if batch_size is None:
            return
        if batch_size == 1:
            self._last_batch_of_one = 'train_dataloader.batch_size=1'
        elif not drop_last and any(n % batch_size == 1 for n in per_rank):
            world = get_world_size()
            self._last_batch_of_one = (
                f'the last training batch of an epoch holds 1 sample '
                f'({len(loader.dataset)} samples over {world} process(es), '
                f'{max(per_rank)} a process, at train_dataloader.batch_size'
                f'={batch_size} with drop_last=False)')
        else:
            return
        world = get_world_size()
        for name, module in model.named_modules():
            if not isinstance(module, _BatchNorm) or (
                    world > 1 and isinstance(module, nn.SyncBatchNorm)):
                continue
            self._bn_handles.append(
                module.register_forward_pre_hook(self._record(name)))

    def _record(self, name: str):

        def hook(module: nn.Module, args: tuple) -> None:
            if not module.training or not args:
                return
            x = args[0]
            if x.dim() < 2 or x.shape[1] == 0:
                return
            per_channel = x.numel() // x.shape[1]  # N * spatial
            if per_channel == 1:  # a batch of 1 is here already
                raise ValueError(
                    f'{self._last_batch_of_one}: a batch of 1 sample reached '
                    f'BatchNorm layer {name} (input {tuple(x.shape)}), which '
                    'cannot train on one value per channel; set '
                    'train_dataloader.batch_size >= 2 (and drop_last=True '
                    'if the data set size leaves a last batch of 1)')
            if per_channel // x.shape[0] == 1:
                self._bn_single.setdefault(name, tuple(x.shape))

        return hook
