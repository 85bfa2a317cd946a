"""Is the teacher's input deterministic? The teacher-side part of a
training pipeline and its random transforms.

A transform *declares* what it does through two class methods, asked with
the arguments of its config (or the attributes of a built one):

- ``cache_writes(args) -> tuple[str, ...] | str | None``: the results keys
  (modalities) it writes; ``()`` for none (a packer), None for any,
  ``MODAL_FIELDS`` for every image field loaded before it (the paired
  geometric transforms: the check resolves it from the loaders above);
- ``cache_fields(args) -> tuple[str, ...]``: the image fields a loader adds
  to ``results['modal_fields']`` (``LoadFrames``: ``('visual', )``);
- ``cache_randomness(args) -> str | None``: why its output is drawn at
  random (``'a random crop start (random_crop=True, test_mode=False)'``),
  None when it is deterministic with these arguments.

Every transform of this package declares both, with
``@declares(writes=..., randomness=...)``
(:mod:`fdkd_plugin.datasets.transforms.declare`; ``fdkd.LoadAudio``,
``LoadFrames``, the paired ``MultiModal*`` geometry ...). A transform of
another package that declares nothing is judged by rules: it writes the
keys named by its ``keys`` / ``key`` / ``out_keys`` / ``out_key`` /
``modalities`` / ``modality`` arguments or in its ``mapping``
(``KeyMapper``), all of them when it names none; it is random when a
transform it wraps (``transforms=[...]``) is, when its name contains
``rand``, ``augment``, ``jitter``, ``mix``, ``noise`` or ``shuffle``, or
when a ``*prob*`` argument is > 0.
"""
import re
from typing import Callable, List, Optional, Sequence, Tuple, Union

from fdkd_plugin.datasets.transforms.declare import MODAL_FIELDS

__all__ = ['written_keys', 'teacher_transforms', 'random_transforms']

Transform = Union[dict, Callable]
_RANDOM_NAME = re.compile(r'rand|augment|jitter|mix|noise|shuffle', re.I)
_UNDECLARED = object()


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


def _class_of(transform: Transform) -> Optional[type]:
    """The class of a built transform, or of a config's ``type`` (looked up
    in this package's registry, which reaches mmcv's and mmpretrain's)."""
    if not isinstance(transform, dict):
        return type(transform)
    kind = transform.get('type')
    if isinstance(kind, type):
        return kind
    if not isinstance(kind, str):
        return None
    from fdkd_plugin.registry import TRANSFORMS
    try:
        return TRANSFORMS.get(kind)
    except Exception:  # an unknown scope or name: judged by the rules
        return None


def _declared(transform: Transform, method: str, args: dict):
    fn = getattr(_class_of(transform), method, None)
    return fn(args) if callable(fn) else _UNDECLARED


def _writes(transform: Transform, name: str, args: dict,
            fields: Optional[Tuple[str, ...]] = None
            ) -> Optional[Tuple[str, ...]]:
    """The results keys a transform writes; None means any of them.

    ``fields``: the image fields loaded before it (what ``MODAL_FIELDS``
    stands for); None when no loader above declared its fields.
    """
    declared = _declared(transform, 'cache_writes', args)
    if declared is not _UNDECLARED:
        if declared == MODAL_FIELDS:
            return fields
        return None if declared is None else tuple(declared)
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


def _randomness(transform: Transform, name: str,
                args: dict) -> Optional[str]:
    """Why a transform is random, or None when it is deterministic."""
    declared = _declared(transform, 'cache_randomness', args)
    if declared is not _UNDECLARED:
        return declared
    inner = args.get('transforms')  # wrappers: KeyMapper, RandomApply...
    if isinstance(inner, (list, tuple)):
        for t in inner:
            inner_name, inner_args = _transform_name_and_args(t)
            reason = _randomness(t, inner_name, inner_args)
            if reason is not None:
                return f'its transform {inner_name}: {reason}'
    short = name.split('.')[-1]  # 'mmpretrain.RandomFlip' -> 'RandomFlip'
    if _RANDOM_NAME.search(short):
        return f'its name {short!r} says it draws at random'
    for arg, value in args.items():
        if 'prob' in arg and isinstance(value, (int, float)) and value > 0:
            return f'{arg}={value} > 0'
    return None


def written_keys(pipeline: Sequence[Transform]
                 ) -> List[Tuple[int, str, dict, Optional[Tuple[str, ...]]]]:
    """What each transform of ``pipeline`` writes.

    Args:
        pipeline (Sequence[dict | callable]): Transform configs (or built
            transforms).

    Returns:
        list[tuple]: ``(position, type name, arguments, keys)`` per
        transform; ``keys`` is None when it may write any key
        (``MODAL_FIELDS`` resolved from the loaders above it).
    """
    out = []
    fields: Optional[Tuple[str, ...]] = None  # image fields loaded so far
    for i, transform in enumerate(pipeline):
        name, args = _transform_name_and_args(transform)
        out.append((i, name, args, _writes(transform, name, args, fields)))
        added = _declared(transform, 'cache_fields', args)
        if added is not _UNDECLARED and added:
            fields = (*(fields or ()), *added)
    return out


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
    return [(i, name, args)
            for i, name, args, keys in written_keys(pipeline)
            if keys is None or modality in keys]


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
        reason = _randomness(pipeline[i], name, args)
        if reason is not None:
            out.append(f'#{i} {name}: {reason}')
    return out
