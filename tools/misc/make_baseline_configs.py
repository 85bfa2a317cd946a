"""Write (or check) the baseline children configs/baselines/{method}/
{dataset}_{direction}.py: ten methods x four data sets x two directions.

Each child is a short config like configs/fdkd/*: the data set's composite
base plus the method's distiller base (configs/_base_/baselines/{method}.py,
which defines ``{method}_distiller``), fed to fdkd.CrossModalDistill. The
generator adds what a child cannot inherit:

- ``teacher_trainable=True`` for the methods that train both networks,
  and ``teacher_ckpt=None`` for those that start both from scratch (DML);
- ``optim_wrapper`` keys a method's base defines as ``{method}_{key}``
  (C2KD: its teacher's lr and gradient clipping);
- AV-digits: the half-width parts that configs/_base_/av/avdigits.py holds
  for a method (HALF_WIDTH);
- VGGSound needs nothing of its own: its visual network folds the frames
  into the batch (fdkd.MultiFrameBackbone) with the one-frame layer paths,
  and fdkd.CrossModalDistill averages per-frame records per clip.

Usage::

    python tools/misc/make_baseline_configs.py          # (re)write all
    python tools/misc/make_baseline_configs.py --check  # exit 1 if stale
"""
import argparse
import os
import os.path as osp
import sys
from functools import lru_cache
from typing import Dict, List, Optional, Tuple

from fdkd_plugin import experiments

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# the ten baselines on the audio-visual data sets, from the experiment
# registry (fdkd_plugin/experiments.py)
METHODS = tuple(m for m in experiments.METHODS if m != 'fdkd')
DATASETS = tuple(d for d in experiments.DATASETS
                 if experiments.modalities_of(d) == ('audio', 'visual'))
NAMES = {d: experiments.DATASETS[d][0] for d in DATASETS}
# (student, teacher) per direction
DIRECTIONS = {
    d: (s, t)
    for d, s, t in experiments.directions_of('avdigits')
}
# why a method trains its teacher too (one line in the child)
TRAINABLE_TEACHER = {
    'dml': 'DML: the two networks learn from each other',
    'c2kd': 'C2KD trains the teacher jointly',
}
# methods with their own optim_wrapper keys (defined in the method's base),
# and why (a comment in the child). None today: C2KD's teacher lr_mult and
# gradient clipping were workarounds for a NaN that came from its frozen
# teacher BatchNorm (configs/_base_/baselines/c2kd.py)
OPTIM_WRAPPER: Dict[str, Tuple[Tuple[str, ...], str]] = {}

# why a method starts its "teacher" from random weights (teacher_ckpt=None)
SCRATCH_TEACHER = {
    'dml': 'DML starts both networks from scratch',
}
# `distiller` overrides a child adds, as {dotted path of a dict inside the
# distiller: [entries]}; an entry is `key=expression` or `**expression`.
# AV-digits (half width): parts that configs/_base_/av/avdigits.py holds
HALF_WIDTH = {
    'ofd': {
        'connectors': ['**_base_.ofd_student_connectors']
    },
    'afd': {
        'distill_losses.loss_afd': ['**_base_.afd_channels']
    },
    'c2kd': {
        'distill_losses.loss_c2kd': ['**_base_.c2kd_channels']
    },
}
# the other data sets: the class count of a distiller with its own heads
CLASSES = {
    'c2kd': {
        'distill_losses.loss_c2kd': ['num_classes=_base_.num_classes']
    },
}


def _call(head: str, items: List[List[str]]) -> List[str]:
    """``head(`` then the items, comma-separated, one level deeper, ``)``."""
    lines = [head + '(']
    for i, item in enumerate(items):
        item = list(item)
        if i < len(items) - 1:
            item[-1] += ','
        lines += ['    ' + line for line in item]
    lines[-1] += ')'
    return lines


def _render(node: dict, base: str, cfg) -> List[List[str]]:
    """The items of ``dict(base, ...)`` for one node of an override tree:
    leaves under the key None, sub-dicts under their names. ``cfg`` is the
    base's value at this node: a key it lacks is a new ``dict(...)``."""
    items = [[base]] if cfg is not None else []
    for key, child in node.items():
        if key is None:
            items += child
        else:
            sub = cfg.get(key) if cfg is not None else None
            items.append(
                _call(f'{key}=dict', _render(child, f'{base}.{key}', sub)))
    return items


def _fit(head: str, args: List[str], indent: int,
         close: str = ')') -> List[str]:
    """``head`` (ending in its opening bracket), the args, ``close``: on one
    line if it fits ``indent`` columns deep with room for a comma or the
    closing brackets after (4), else one arg a line."""
    one = head + ', '.join(args) + close
    if indent + len(one) + 4 <= 79:
        return [one]
    if close == ')':
        return _call(head[:-1], [[a] for a in args])
    return ([head] + ['    ' + a + ',' for a in args[:-1]] +
            ['    ' + args[-1], close])


def _add(tree: dict, path: str, item: List[str]) -> None:
    node = tree
    for key in path.split('.') if path else ():
        node = node.setdefault(key, {})
    node.setdefault(None, []).append(item)


@lru_cache(maxsize=None)
def _load_distiller(path: str, method: str, mtime: float):
    """Parsed once per file version (``mtime`` is only the cache key)."""
    from mmengine.config import Config
    return Config.fromfile(path)[f'{method}_distiller']


def base_distiller(method: str):
    """``{method}_distiller`` of configs/_base_/baselines/{method}.py."""
    base = osp.join(REPO_ROOT, 'configs', '_base_', 'baselines',
                    f'{method}.py')
    if not osp.isfile(base):
        raise FileNotFoundError(
            f'{base} is missing: the children of {method!r} extend its '
            f'{method}_distiller')
    return _load_distiller(base, method, os.stat(base).st_mtime)


def child(method: str, dataset: str, direction: str) -> str:
    """The text of configs/baselines/{method}/{dataset}_{direction}.py."""
    student, teacher = DIRECTIONS[direction]
    lines = [
        f'# {method} baseline on {NAMES[dataset]}: {teacher} teacher -> '
        f'{student} student, through the',
        '# same CrossModalDistill as FDKD (same data, networks and '
        'schedule).',
        f"_base_ = ['../../_base_/av/{dataset}.py', "
        f"'../../_base_/baselines/{method}.py']",
        'model = dict(',
        "    type='fdkd.CrossModalDistill',",
        f'    architecture=_base_.{student}_model,',
        f'    teacher=_base_.{teacher}_model,',
        (f'    teacher_ckpt=None,  # {SCRATCH_TEACHER[method]}'
         if method in SCRATCH_TEACHER else
         f"    teacher_ckpt='work_dirs/{dataset}_{teacher}/selected.pth',"),
        f"    student_modality='{student}',",
        f"    teacher_modality='{teacher}',",
    ]
    if method in TRAINABLE_TEACHER:
        lines.append(f'    teacher_trainable=True,  # '
                     f'{TRAINABLE_TEACHER[method]}')
    tree: dict = {}
    if dataset == 'avdigits':
        comment = '# half width: from configs/_base_/av/avdigits.py'
        spec = HALF_WIDTH.get(method, {})
    else:
        comment = f'# the {NAMES[dataset]} classes'
        spec = CLASSES.get(method, {})
    for n, (path, entries) in enumerate(spec.items()):
        for k, entry in enumerate(entries):
            _add(tree, path, ([comment] if n == k == 0 else []) + [entry])
    if tree:
        distiller = _call(
            'distiller=dict',
            _render(tree, f'_base_.{method}_distiller',
                    base_distiller(method)))
        distiller[-1] += ')'
        lines += ['    ' + line for line in distiller]
    else:
        lines.append(f'    distiller=_base_.{method}_distiller)')
    if method in OPTIM_WRAPPER:
        keys, why = OPTIM_WRAPPER[method]
        lines += [f'# {why}', 'optim_wrapper = dict(']
        lines += [f'    {key}=_base_.{method}_{key},' for key in keys]
        lines[-1] = lines[-1][:-1] + ')'
    lines += [
        'val_cfg = _base_.cross_modal_val_cfg',
        'test_cfg = _base_.cross_modal_test_cfg',
    ]
    return '\n'.join(lines) + '\n'


def child_path(method: str, dataset: str, direction: str) -> str:
    return osp.join(REPO_ROOT,
                    experiments.method_config(method, dataset, direction))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--check',
        action='store_true',
        help='write nothing; exit 1 if a child is missing '
        'or differs from what would be written')
    parser.add_argument(
        '--methods',
        nargs='+',
        default=list(METHODS),
        choices=METHODS,
        help='only these methods')
    args = parser.parse_args(argv)
    stale = []
    for method in args.methods:
        for dataset in DATASETS:
            for direction in DIRECTIONS:
                path = child_path(method, dataset, direction)
                text = child(method, dataset, direction)
                old = open(path).read() if osp.isfile(path) else None
                if old == text:
                    continue
                stale.append(osp.relpath(path, REPO_ROOT))
                if not args.check:
                    os.makedirs(osp.dirname(path), exist_ok=True)
                    with open(path, 'w') as f:
                        f.write(text)
    verb = 'stale or missing' if args.check else 'written'
    print(f'{len(stale)} {verb}' + ''.join(f'\n  {p}' for p in stale))
    return 1 if stale and args.check else 0


if __name__ == '__main__':
    sys.exit(main())
