"""AV-digits: Uni, Logit KD, Feat and FDKD, both directions, several seeds.

With ``--methods`` also FDKD's controls and readings (an untrained teacher,
``reduction='sum_per_sample'``, FDKD + Logit KD, the lambda sweep): the runs
behind "does the teacher matter under each reading" (issue 14, item 5):

    python benchmarks/avdigits_kd.py --data-root data/avdigits_strong_teacher \
        --work-dir work_dirs/bench_avdigits_strong_teacher \
        --directions audio_from_visual --teacher-seed 0 --methods logit fdkd \
        fdkd_untrained fdkd_sum fdkd_sum_untrained fdkd_sum_logit

Prints (and writes with ``--out``) a Markdown table of test top-1 accuracy,
mean ± std over seeds, checkpoints selected on the validation split; then the
training-step time of FDKD over Feat (MMRazor ``L2Loss``) measured in one
process on the same networks and batch (``train_step.step_time_ratio``; the
other step benchmarks are in ``benchmarks/train_step.py``).

    python benchmarks/avdigits_kd.py --seeds 0 1 2 --out docs/results_avdigits.md
    python benchmarks/avdigits_kd.py --step-time-only --device cuda

Each run is a ``tools/train.py`` + ``tools/test.py`` pair under
``--work-dir``; finished runs are reused, so an interrupted benchmark
continues where it stopped.
"""
import argparse
import os.path as osp
import statistics
import sys
from typing import Callable, Dict, List, Optional

import fdkd_plugin  # noqa: F401
from fdkd_plugin.config_names import find
from fdkd_plugin.experiments import (directions_of, method_config,
                                     unimodal_config)
from fdkd_plugin.utils.runs import (REPO_ROOT, data_options,
                                    markdown_table, train_and_test)
# the FDKD / Feat step time lives with the other step benchmarks
from train_step import step_time_ratio

DIRECTIONS = {d: (s, t) for d, s, t in directions_of('avdigits')}


def _cell(method: str, variant: str = '') -> Callable[[str], str]:
    """direction -> the AV-digits config of ``method`` (and ``variant``)."""

    def config(direction: str) -> str:
        if not variant:  # the table's cell, as the experiment registry has it
            return method_config(method, 'avdigits', direction)
        student, teacher = DIRECTIONS[direction]
        return find(method, 'avdigits', student, teacher, variant,
                    root=REPO_ROOT)

    return config


_LOGIT, _FEAT, _FDKD = (_cell(m) for m in ('logit', 'feat', 'fdkd'))
_FDKD_LOGIT = _cell('fdkd', 'logit')
_SUM = 'model.distiller.reduction=sum_per_sample'
_UNTRAINED = 'model.control=untrained_teacher'
# name: (row label, direction -> config, extra --cfg-options)
METHODS = {
    'logit': ('Logit KD', _LOGIT, []),
    'feat': ('Feat', _FEAT, []),
    'fdkd': ('FDKD', _FDKD, []),
    # the feature terms summed over D instead of averaged (D times larger)
    'fdkd_sum': ('FDKD (sum_per_sample)', _FDKD,
                 [_SUM]),
    # the controls: the same runs with a random frozen teacher
    'fdkd_untrained': ('FDKD, untrained teacher',
                       _FDKD, [_UNTRAINED]),
    'fdkd_sum_untrained': ('FDKD (sum_per_sample), untrained teacher',
                           _FDKD, [_SUM, _UNTRAINED]),
    # FDKD's terms and the Logit baseline's KL in one distiller
    'fdkd_logit': ('FDKD + Logit KD', _FDKD_LOGIT, []),
    'fdkd_sum_logit': ('FDKD (sum_per_sample) + Logit KD',
                       _FDKD_LOGIT, [_SUM]),
}
# the lambda sweep (lambda_low = lambda_high) under sum_per_sample
for _lam in ('0.1', '10'):
    METHODS[f'fdkd_sum_lambda{_lam}'] = (
        f'FDKD (sum_per_sample), lambda {_lam}', _FDKD,
        [_SUM, f'model.distiller.lambda_low={_lam}',
         f'model.distiller.lambda_high={_lam}'])
# does the larger weight draw on the teacher? The same with a random one
METHODS['fdkd_sum_lambda10_untrained'] = (
    'FDKD (sum_per_sample), untrained teacher, lambda 10',
    _FDKD, METHODS['fdkd_sum_lambda10'][2] +
    [_UNTRAINED])
DEFAULT_METHODS = ['logit', 'feat', 'fdkd']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-root', default='data/avdigits')
    p.add_argument('--work-dir', default='work_dirs/bench_avdigits')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--methods', nargs='+', default=DEFAULT_METHODS,
                   choices=list(METHODS))
    p.add_argument('--directions', nargs='+', default=list(DIRECTIONS),
                   choices=list(DIRECTIONS))
    p.add_argument('--teacher-seed', type=int,
                   help='every seed distills from the Uni teacher of this '
                   'seed (default: each seed its own)')
    p.add_argument('--epochs', type=int, help='override max_epochs')
    p.add_argument('--out', help='also write the tables to this Markdown file')
    p.add_argument('--step-time-only', action='store_true')
    p.add_argument('--no-step-time', action='store_true',
                   help='accuracy only (the step time needs a quiet machine)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--steps', type=int, default=20,
                   help='timed steps per method for the step-time ratio')
    return p.parse_args(argv)


def mean_std(values: List[float]) -> str:
    """``mean ± std (each seed)``; one value as it is."""
    if len(values) == 1:
        return f'{values[0]:.2f}'
    each = ', '.join(f'{v:.1f}' for v in values)
    return (f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} '
            f'({each})')


def accuracy_table(args: argparse.Namespace) -> str:
    common = data_options(args.data_root, args.epochs)
    acc: Dict[str, Dict[str, List[float]]] = {}

    def record(row: str, col: str, value: float) -> None:
        acc.setdefault(row, {}).setdefault(col, []).append(value)

    directions = {d: DIRECTIONS[d] for d in args.directions}
    students = [s for s, _ in directions.values()]

    def uni(seed: int, modality: str):
        """The Uni run of ``modality`` at ``seed``: (checkpoint, test top-1)."""
        name = f'avdigits_{modality}'
        work = osp.join(args.work_dir, f'seed{seed}', name)
        r = train_and_test(unimodal_config('avdigits', modality), work,
                           common + [f'randomness.seed={seed}'], quiet=True)
        print(f'[seed {seed}] Uni {modality}: {r["accuracy/top1"]:.2f}',
              flush=True)
        return osp.join(work, 'selected.pth'), r['accuracy/top1']

    for seed in args.seeds:
        opts = common + [f'randomness.seed={seed}']
        for student in students:
            record('Uni', student, uni(seed, student)[1])
        for direction, (student, teacher) in directions.items():
            ckpt, teacher_acc = uni(
                seed if args.teacher_seed is None else args.teacher_seed,
                teacher)
            # one teacher for every seed: one value, not a repeated one
            if args.teacher_seed is None or seed == args.seeds[0]:
                record('Teacher (Uni of the other modality)', student,
                       teacher_acc)
            for method in args.methods:
                label, config, extra = METHODS[method]
                work = osp.join(args.work_dir, f'seed{seed}',
                                f'{method}_{direction}')
                r = train_and_test(
                    config(direction), work,
                    opts + extra + [f'model.teacher_ckpt={ckpt}'],
                    quiet=True)
                record(label, student, r['accuracy/top1'])
                print(f'[seed {seed}] {label} {student} <- {teacher}: '
                      f'{r["accuracy/top1"]:.2f}', flush=True)

    header = {'audio': 'A (audio student)', 'visual': 'V (visual student)'}
    rows = [('Method', *(header[s] for s in students))]
    for label in (['Teacher (Uni of the other modality)', 'Uni'] +
                  [METHODS[m][0] for m in args.methods]):
        rows.append((label, *(mean_std(acc[label][s]) for s in students)))
    return markdown_table(rows)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    parts = []
    if not args.step_time_only:
        if not osp.isfile(osp.join(REPO_ROOT, args.data_root, 'test.csv')):
            sys.exit(f'{args.data_root}/test.csv not found: run `make data`')
        table = accuracy_table(args)
        parts.append('Test top-1 (%) on AV-digits, mean ± std over seeds '
                     f'{args.seeds}, checkpoints selected on the validation '
                     'split.\n\n' + table)
    if not args.no_step_time:
        parts.append(
            step_time_ratio(
                args.device, args.steps, data_root=args.data_root,
                machine=True))
    text = '\n\n'.join(parts)
    print('\n' + text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
