"""Build-time checks of a distillation model that turn a silently wrong run
or a traceback from deep inside a library into an error naming the config
key, the file and the fix.

- :func:`check_teacher_ckpt_exists`: the teacher checkpoint is a file
  (else: which unimodal config trains it);
- :func:`load_teacher_checkpoint`: the teacher loads *strictly*, every key
  and shape of the network (else: the keys that differ, or the command that
  extracts a network from a distillation checkpoint);
- :func:`fill_loss_classes`: a loss's ``num_classes=None`` from the student;
- :func:`num_classes_of` / :func:`check_labels`: class counts of the heads,
  and labels inside them.
"""
import contextlib
import os
import os.path as osp
import re
from typing import (Callable, Iterable, Iterator, List, Mapping, Optional,
                    Sequence, Tuple)

import torch
from mmengine.structures import BaseDataElement
from torch import nn

from fdkd_plugin.config_names import find, parse_legacy

__all__ = [
    'check_teacher_ckpt_exists', 'load_teacher_checkpoint', 'num_classes_of',
    'check_labels', 'unimodal_config_for', 'DISTILL_PREFIXES',
    'gt_labels_of', 'check_class_counts', 'batch_norm_guard',
    'fill_loss_classes'
]

#: Top-level keys of a checkpoint of ``CrossModalDistill`` (student,
#: teacher, distiller) and of ``BidirectionalCrossModalDistill``.
DISTILL_PREFIXES: Tuple[str, ...] = ('architecture.', 'teacher.',
                                     'distiller.', 'directions.')
#: How many keys an error lists before "(+N more)".
SHOWN_KEYS = 5
#: The repository root (configs/ is found there, or in the working dir).
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


def _is_remote(path: str) -> bool:
    """``http://``, ``open-mmlab://``, ``s3://`` ...: MMEngine's other
    checkpoint loaders, which this module does not second-guess."""
    return '://' in path


def unimodal_config_for(ckpt_path: str) -> Optional[str]:
    """The unimodal config whose run leaves ``ckpt_path``, if there is one.

    Runs write ``work_dirs/<config name>/selected.pth``
    (``fdkd.SelectedCheckpointHook``), so the checkpoint's directory names
    the config: ``work_dirs/r18-deeplabv3plus_4xb4-50e_nyu-rgb/selected.pth``
    -> ``configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-rgb.py`` (a
    directory named before 0.2, ``nyu_rgb``, names the same config), when
    that file exists under the working directory or the repository root.

    Returns:
        str | None: The config path relative to the repository root.
    """
    name = osp.basename(osp.dirname(osp.normpath(ckpt_path)))
    if not name:
        return None
    rel = osp.join('configs', 'unimodal', f'{name}.py')
    # a work dir named after a config from before 0.2 (avdigits_visual)
    old = parse_legacy(rel)
    for root in (os.getcwd(), _REPO_ROOT):
        if osp.isfile(osp.join(root, rel)):
            return rel
        if old is not None and old.method == 'uni' and old.student:
            new = find('uni', old.dataset, old.student, root=root)
            if new is not None:
                return new
    return None


def _train_commands(config: str, work_dir: Optional[str]) -> str:
    """``tools/dist_train.sh CONFIG N (or python tools/train.py CONFIG)``,
    N being this launch's processes per node when it is distributed."""
    extra = f' --work-dir {work_dir}' if work_dir else ''
    procs = os.environ.get('LOCAL_WORLD_SIZE') or os.environ.get('WORLD_SIZE')
    procs = procs if procs and procs.isdigit() and int(procs) > 1 else 'N'
    return (f'tools/dist_train.sh {config} {procs}{extra} (or python '
            f'tools/train.py {config}{extra})')


def check_teacher_ckpt_exists(path: str,
                              key: str = 'model.teacher_ckpt') -> None:
    """Refuse a local teacher checkpoint that does not exist, saying how to
    make it.

    Args:
        path (str): The checkpoint (``~`` is expanded, as MMEngine does).
            Remote ones (``scheme://``) are left to MMEngine's loaders.
        key (str): The config key of ``path``, for the message.

    Raises:
        FileNotFoundError: ``path`` is not a file. The message names it,
            the unimodal config that trains it (found from the
            ``work_dirs/<config name>/`` convention, see
            :func:`unimodal_config_for`) and ``key``.
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f'{key}={path!r} must be a non-empty str')
    if _is_remote(path) or osp.isfile(osp.expanduser(path)):
        return
    local = osp.expanduser(path)
    what = f'teacher checkpoint {path} does not exist'
    if osp.islink(local):
        what += (f' (it is a link to {os.readlink(local)}, which does not: '
                 'the teacher run saved no checkpoint yet, or its files '
                 'moved)')
    config = unimodal_config_for(path)
    if config is not None:
        name = osp.splitext(osp.basename(config))[0]
        default_dir = osp.join('work_dirs', name)
        work_dir = osp.dirname(osp.normpath(path))
        work_dir = None if work_dir == default_dir else work_dir
        how = (f'train the teacher first: {_train_commands(config, work_dir)}'
               f', or set {key} to an existing checkpoint')
    else:
        how = ('train the teacher first with its unimodal config (tools/'
               'dist_train.sh CONFIG N, or python tools/train.py CONFIG, '
               'leaves work_dirs/<config name>/selected.pth), or set '
               f'{key} to an existing checkpoint')
    raise FileNotFoundError(f'{what}: {how}')


def _shown(keys: Sequence[str]) -> str:
    head = ', '.join(keys[:SHOWN_KEYS])
    more = len(keys) - SHOWN_KEYS
    return head + (f' (+{more} more)' if more > 0 else '')


def _shape(value: object) -> Optional[Tuple[int, ...]]:
    shape = getattr(value, 'shape', None)
    return None if shape is None else tuple(shape)


def _distill_hint(path: str, keys: Iterable[str]) -> Optional[str]:
    """The extraction command when ``keys`` are those of a distillation
    checkpoint, else None."""
    keys = list(keys)
    if not keys or not all(k.startswith(DISTILL_PREFIXES) for k in keys):
        return None
    directions = sorted({
        k.split('.')[1]
        for k in keys if k.startswith('directions.') and k.count('.') > 1
    })
    if not directions and not any(k.startswith('architecture.')
                                  for k in keys):
        return None
    stem = osp.splitext(path)[0]
    if directions:
        return (f'this is a checkpoint of fdkd.BidirectionalCrossModalDistill'
                f' (one student per direction: {directions}); extract the '
                'student to use as the teacher with python tools/model_'
                f'converters/extract_student.py {path} {stem}_student.pth '
                f'--student {directions[0]} and set the teacher checkpoint '
                'to the result')
    return ('this is a distillation checkpoint (architecture.*, teacher.*, '
            'distiller.*), not a single network; extract its student with '
            f'python tools/model_converters/extract_student.py {path} '
            f'{stem}_student.pth (add --part teacher for its teacher) and set'
            ' the teacher checkpoint to the result')


def load_teacher_checkpoint(teacher: nn.Module,
                            path: str,
                            key: str = 'model.teacher_ckpt',
                            teacher_key: str = 'model.teacher') -> dict:
    """Load ``path`` into ``teacher`` strictly.

    The file is read through MMEngine's ``CheckpointLoader`` (so the
    project's loader scheme applies: ``~``, remote schemes, safe
    unpickling), its ``state_dict`` (or the file itself when it is one)
    has ``module.`` prefixes stripped as MMEngine does, and it must hold
    exactly the teacher's keys with the teacher's shapes. Unlike MMRazor's
    ``SingleTeacherDistill`` (``strict=False``, the mismatch printed only),
    a partial load is an error: a teacher with random layers distills
    noise without any other sign.

    Args:
        teacher (nn.Module): The built teacher (initialized).
        path (str): The checkpoint.
        key (str): Config key of ``path``, for messages.
        teacher_key (str): Config key of the teacher, for messages.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        ValueError: The checkpoint is a distillation checkpoint (the
            message gives the ``extract_student.py`` command), or its keys
            or shapes differ from the teacher's (the message lists the
            first few of each kind and their count).
    """
    from mmengine.runner.checkpoint import (_load_checkpoint,
                                            _load_checkpoint_to_model)
    checkpoint = _load_checkpoint(path, map_location='cpu')
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, Mapping) else checkpoint
    if not isinstance(state, Mapping):
        raise ValueError(f'{key}={path!r} holds a {type(state).__name__}, '
                         'not a state dict (or a checkpoint with one)')
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    expected = teacher.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f'{k}: checkpoint {_shape(state[k])}, model {_shape(expected[k])}'
        for k in expected
        if k in state and _shape(state[k]) != _shape(expected[k])
    ]
    if not (missing or unexpected or mismatched):
        _load_checkpoint_to_model(teacher, checkpoint, strict=True)
        return checkpoint
    head = f'{key}={path} does not fit {teacher_key} ' \
           f'({type(teacher).__name__})'
    hint = _distill_hint(path, unexpected) if len(unexpected) == len(
        state) else None
    if hint is not None:
        raise ValueError(f'{head}: {hint}')
    parts = []
    if missing:
        parts.append(f'{len(missing)} keys of the model are missing from '
                     f'the checkpoint: {_shown(missing)}')
    if unexpected:
        parts.append(f'{len(unexpected)} keys of the checkpoint are not in '
                     f'the model: {_shown(unexpected)}')
    if mismatched:
        parts.append(f'{len(mismatched)} shapes differ: '
                     f'{_shown(mismatched)}')
    raise ValueError(
        f'{head}: ' + '; '.join(parts) + '. Teacher checkpoints load '
        f'strictly: give the checkpoint of the network {teacher_key} '
        'describes (the run of its unimodal config, same modality and '
        f'num_classes), or change {teacher_key} to the network the '
        'checkpoint holds')


def num_classes_of(model: nn.Module) -> Optional[Tuple[int, str]]:
    """The class count of a classifier / segmentor head, with its key.

    Looks at ``model.head`` (MMPretrain classifiers, ``fdkd.TextClassifier``)
    and ``model.decode_head`` (MMSegmentation).

    Returns:
        tuple[int, str] | None: ``(num_classes, 'head.num_classes')``, or
        None when the model has no such head.
    """
    for attr in ('head', 'decode_head'):
        n = getattr(getattr(model, attr, None), 'num_classes', None)
        if isinstance(n, int) and not isinstance(n, bool):
            return n, f'{attr}.num_classes'
    return None


def check_labels(labels: Optional[torch.Tensor], num_classes: Optional[int],
                 data_samples: Optional[List], key: str) -> None:
    """Refuse a batch whose class labels fall outside ``[0, num_classes)``.

    The cross-entropy would otherwise fail inside torch (``IndexError`` on
    CPU, a device-side assert on CUDA) without naming the sample. One
    comparison per batch (one host sync on CUDA).

    Args:
        labels (Tensor | None): ``(N,)`` integer labels; None or floating
            (soft) labels are not checked.
        num_classes (int | None): The head's class count.
        data_samples (list, optional): The batch's samples, to name the
            clip (``clip_id`` / ``sample_idx`` metainfo).
        key (str): Config key of ``num_classes``, for the message.

    Raises:
        ValueError: Naming the first bad label, its clip and ``key``.
    """
    if labels is None or num_classes is None or labels.is_floating_point() \
            or labels.numel() == 0:
        return
    bad = (labels < 0) | (labels >= num_classes)
    if not bool(bad.any()):
        return
    i = int(bad.nonzero()[0, 0])
    clip = f'sample {i} of the batch'
    if data_samples is not None and i < len(data_samples):
        meta = getattr(data_samples[i], 'metainfo', {}) or {}
        for name in ('clip_id', 'sample_idx', 'img_path'):
            if name in meta:
                clip = f'{name}={meta[name]!r}'
                break
    raise ValueError(
        f'label {int(labels.flatten()[i])} of {clip} is outside [0, '
        f'{num_classes}) where {key}={num_classes}: the data set has more '
        'classes than the model, or its annotation file holds a wrong '
        f'label; set {key} to the data set\'s class count '
        "(len(dataset.metainfo['classes'])) or fix the ann_file")


def gt_labels_of(data_samples: Optional[List[BaseDataElement]]
                 ) -> Optional[torch.Tensor]:
    """The ``(N,)`` class labels of a batch, or None if it carries none.

    Classification samples (mmpretrain ``DataSample``) hold ``gt_label`` as a
    1-element tensor each.
    """
    if not data_samples or 'gt_label' not in data_samples[0]:
        return None
    return torch.cat([sample.gt_label for sample in data_samples])


def check_class_counts(student: nn.Module, teacher: nn.Module, distiller,
                       key: Callable[[str], str]) -> None:
    """One class count for student, teacher, the distiller and its losses
    (shared heads and logit KD compare logits class by class); ``key``
    turns an argument name into its config key, for the message."""
    counts = {}
    for arg, network in (('architecture', student), ('teacher', teacher)):
        found = num_classes_of(network)
        if found is not None:
            counts[key(f'{arg}.{found[1]}')] = found[0]
    n = getattr(distiller, 'num_classes', None)
    if isinstance(n, int):
        counts[key('distiller.num_classes')] = n
    losses = getattr(distiller, 'distill_losses', None) or {}
    for name, loss in losses.items():
        n = getattr(loss, 'num_classes', None)
        if isinstance(n, int):
            counts[key(f'distiller.distill_losses.{name}.num_classes')] = n
    if len(set(counts.values())) > 1:
        listed = ', '.join(f'{k}={v}' for k, v in counts.items())
        raise ValueError(
            f'class counts differ: {listed}; teacher and student of '
            'cross-modal distillation classify the same labels (shared '
            'heads and logit KD compare their logits class by class): '
            "set them all to the data set's class count")


@contextlib.contextmanager
def batch_norm_guard() -> Iterator[None]:
    """Turn torch's error for a batch of one sample at a training
    BatchNorm into one naming the data loader keys."""
    try:
        yield
    except ValueError as err:
        if 'Expected more than 1 value per channel' not in str(err):
            raise
        raise ValueError(
            'a training batch of 1 sample reached a BatchNorm layer, '
            'which cannot compute statistics from one value per channel '
            f'({err}); set train_dataloader.drop_last=True (the data '
            "set's size leaves a last batch of 1 sample) or "
            'train_dataloader.batch_size >= 2') from err


def fill_loss_classes(distiller, architecture, key: str):
    """A distill loss config with ``num_classes=None`` (C2KD's proxy
    heads) gets the student head's class count; ``key`` names the losses'
    config in the error."""
    losses = distiller.get('distill_losses') if isinstance(
        distiller, dict) else None
    if not losses or not any(
            isinstance(c, dict) and 'num_classes' in c
            and c['num_classes'] is None for c in losses.values()):
        return distiller
    if isinstance(architecture, dict):
        n = (architecture.get('head') or {}).get('num_classes')
    else:
        found = num_classes_of(architecture)
        n = None if found is None else found[0]
    if n is None:
        raise ValueError(f'{key}: num_classes=None takes the student '
                         "head's class count, and the student has no "
                         'head.num_classes: set num_classes')
    filled = {
        name: dict(c, num_classes=n) if isinstance(c, dict)
        and 'num_classes' in c and c['num_classes'] is None else c
        for name, c in losses.items()
    }
    return dict(distiller, distill_losses=filled)
