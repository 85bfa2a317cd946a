"""Write (or check) the baseline children configs/baselines/{method}/
{dataset}_{direction}.py: ten methods x four data sets x two directions.

Each child is a short config like configs/fdkd/*: the data set's composite
base plus the method's distiller base (configs/_base_/baselines/{method}.py,
which defines ``{method}_distiller``), fed to fdkd.CrossModalDistill. The
generator adds what a child cannot inherit:

- ``teacher_trainable=True`` for the methods that train both networks;
- AV-digits: the half-width parts that configs/_base_/av/avdigits.py holds
  for a method (HALF_WIDTH);
- VGGSound: the visual network is wrapped by fdkd.MultiFrameBackbone, so its
  recorders under ``backbone.`` move to ``backbone.backbone.`` (read from
  the method's base, which must exist).

Usage::

    python tools/misc/make_baseline_configs.py          # (re)write all
    python tools/misc/make_baseline_configs.py --check  # exit 1 if stale
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

METHODS = ('logit', 'dist', 'dml', 'nkd', 'dkd', 'feat', 'pkd', 'ofd', 'afd',
           'c2kd')
DATASETS = ('avdigits', 'crema_d', 'ave', 'vggsound')
NAMES = dict(
    avdigits='AV-digits', crema_d='CREMA-D', ave='AVE', vggsound='VGGSound')
# (student, teacher) per direction
DIRECTIONS = {
    'audio_from_visual': ('audio', 'visual'),
    'visual_from_audio': ('visual', 'audio'),
}
# why a method trains its teacher too (one line in the child)
TRAINABLE_TEACHER = {
    'dml': 'DML: the two networks learn from each other',
    'c2kd': 'C2KD trains the teacher jointly',
}
# `distiller` overrides a child adds, as {dotted path of a dict inside the
# distiller: [entries]}; an entry is `key=expression` or `**expression`.
# AV-digits (half width): parts that configs/_base_/av/avdigits.py holds
HALF_WIDTH = {
    'ofd': {
        'connectors': ['loss_ofd_sfeat=_base_.ofd_student_connector']
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


def _render(node: dict, base: str) -> List[List[str]]:
    """The items of ``dict(base, ...)`` for one node of an override tree:
    leaves under the key None, sub-dicts under their names."""
    items = [[base]]
    for key, child in node.items():
        if key is None:
            items += child
        else:
            items.append(_call(f'{key}=dict', _render(child, f'{base}.{key}')))
    return items


def _add(tree: dict, path: str, item: List[str]) -> None:
    node = tree
    for key in path.split('.') if path else ():
        node = node.setdefault(key, {})
    node.setdefault(None, []).append(item)


def vggsound_recorders(method: str, side: str) -> Dict[str, dict]:
    """The ``{side}_recorders`` of the method's base with every source under
    ``backbone.`` moved under ``backbone.backbone.``; {} if none moves."""
    from mmengine.config import Config
    base = osp.join(REPO_ROOT, 'configs', '_base_', 'baselines',
                    f'{method}.py')
    if not osp.isfile(base):
        raise FileNotFoundError(
            f'{base} is missing: the VGGSound children of {method!r} are '
            'derived from its recorders')
    distiller = Config.fromfile(base)[f'{method}_distiller']
    recorders = distiller.get(f'{side}_recorders') or {}
    out, moved = {}, False
    for name, rec in recorders.items():
        rec = dict(rec)
        if rec['source'].startswith('backbone.'):
            rec['source'] = 'backbone.' + rec['source']
            moved = True
        out[name] = rec
    return out if moved else {}


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
        f"    teacher_ckpt='work_dirs/{dataset}_{teacher}/selected.pth',",
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
    if dataset == 'vggsound':
        side = 'student' if student == 'visual' else 'teacher'
        recorders = vggsound_recorders(method, side)
        if recorders:
            items = []
            for name, rec in recorders.items():
                args = [f'{k}={v!r}' for k, v in rec.items()]
                one = f'{name}=dict({", ".join(args)})'
                # 12 columns deep with a comma after: one line if it fits
                if 12 + len(one) + 1 <= 79:
                    items.append([one])
                else:
                    items.append(_call(f'{name}=dict', [[a] for a in args]))
            note = '# the visual network is wrapped by fdkd.MultiFrameBackbone'
            _add(tree, '', [note] + _call(f'{side}_recorders=dict', items))
    if tree:
        distiller = _call('distiller=dict',
                          _render(tree, f'_base_.{method}_distiller'))
        distiller[-1] += ')'
        lines += ['    ' + line for line in distiller]
    else:
        lines.append(f'    distiller=_base_.{method}_distiller)')
    lines += [
        'val_cfg = _base_.cross_modal_val_cfg',
        'test_cfg = _base_.cross_modal_test_cfg',
    ]
    return '\n'.join(lines) + '\n'


def child_path(method: str, dataset: str, direction: str) -> str:
    return osp.join(REPO_ROOT, 'configs', 'baselines', method,
                    f'{dataset}_{direction}.py')


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
