"""AV-digits: Uni, Logit KD, Feat and FDKD, both directions, several seeds.

Prints (and writes with ``--out``) a Markdown table of test top-1 accuracy,
mean ± std over seeds, checkpoints selected on the validation split; then the
training-step time of FDKD over Feat (MMRazor ``L2Loss``) measured in one
process on the same networks and batch.

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
import time
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import fdkd_plugin  # noqa: E402,F401
from fdkd_plugin.utils.runs import (REPO_ROOT, data_options,  # noqa: E402
                                    markdown_table, train_and_test)

DIRECTIONS = {
    'audio_from_visual': ('audio', 'visual'),
    'visual_from_audio': ('visual', 'audio'),
}
# name: (row label, config pattern, extra --cfg-options)
METHODS = {
    'logit': ('Logit KD', 'configs/baselines/logit/avdigits_{}.py', []),
    'feat': ('Feat', 'configs/baselines/feat/avdigits_{}.py', []),
    'fdkd': ('FDKD', 'configs/fdkd/avdigits_{}.py', []),
    # the feature terms summed over D instead of averaged (D times larger)
    'fdkd_sum': ('FDKD (sum_per_sample)', 'configs/fdkd/avdigits_{}.py',
                 ['model.distiller.reduction=sum_per_sample']),
}
DEFAULT_METHODS = ['logit', 'feat', 'fdkd']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-root', default='data/avdigits')
    p.add_argument('--work-dir', default='work_dirs/bench_avdigits')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--methods', nargs='+', default=DEFAULT_METHODS,
                   choices=list(METHODS))
    p.add_argument('--epochs', type=int, help='override max_epochs')
    p.add_argument('--out', help='also write the tables to this Markdown file')
    p.add_argument('--step-time-only', action='store_true')
    p.add_argument('--device', default='cpu')
    p.add_argument('--steps', type=int, default=20,
                   help='timed steps per method for the step-time ratio')
    return p.parse_args(argv)


def mean_std(values: List[float]) -> str:
    if len(values) == 1:
        return f'{values[0]:.2f}'
    return f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}'


def accuracy_table(args: argparse.Namespace) -> str:
    common = data_options(args.data_root, args.epochs)
    acc: Dict[str, Dict[str, List[float]]] = {}

    def record(row: str, col: str, value: float) -> None:
        acc.setdefault(row, {}).setdefault(col, []).append(value)

    for seed in args.seeds:
        opts = common + [f'randomness.seed={seed}']
        uni = {}
        for modality in ('audio', 'visual'):
            name = f'avdigits_{modality}'
            uni[modality] = osp.join(args.work_dir, f'seed{seed}', name)
            r = train_and_test(f'configs/unimodal/{name}.py', uni[modality],
                               opts, quiet=True)
            record('Uni', modality, r['accuracy/top1'])
            print(f'[seed {seed}] Uni {modality}: {r["accuracy/top1"]:.2f}',
                  flush=True)
        for direction, (student, teacher) in DIRECTIONS.items():
            for method in args.methods:
                label, pattern, extra = METHODS[method]
                work = osp.join(args.work_dir, f'seed{seed}',
                                f'{method}_{direction}')
                ckpt = osp.join(uni[teacher], 'selected.pth')
                r = train_and_test(
                    pattern.format(direction), work,
                    opts + extra + [f'model.teacher_ckpt={ckpt}'],
                    quiet=True)
                record(label, student, r['accuracy/top1'])
                print(f'[seed {seed}] {label} {student} <- {teacher}: '
                      f'{r["accuracy/top1"]:.2f}', flush=True)

    rows = [('Method', 'A (audio student)', 'V (visual student)')]
    for label in ['Uni'] + [METHODS[m][0] for m in args.methods]:
        rows.append((label, mean_std(acc[label]['audio']),
                     mean_std(acc[label]['visual'])))
    return markdown_table(rows)


def step_time_ratio(args: argparse.Namespace) -> str:
    """Median time of one FDKD training step over one Feat step."""
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, DefaultScope
    from mmpretrain.structures import DataSample

    device = torch.device(args.device)
    configs = {
        'Feat': 'configs/baselines/feat/avdigits_audio_from_visual.py',
        'FDKD': 'configs/fdkd/avdigits_audio_from_visual.py',
    }
    torch.manual_seed(0)
    labels = torch.randint(0, 10, (32, ))
    batch = dict(
        inputs=dict(
            audio=torch.randn(32, 1, 129, 63),
            visual=torch.randn(32, 3, 32, 32)),
        data_samples=[DataSample().set_gt_label(int(y)) for y in labels])
    models, wrappers = {}, {}
    with DefaultScope.overwrite_default_scope('fdkd'):
        for name, path in configs.items():
            cfg = Config.fromfile(osp.join(REPO_ROOT, path))
            cfg.model.teacher_ckpt = None
            model = MODELS.build(cfg.model).to(device)
            model.train()
            models[name] = model
            wrappers[name] = build_optim_wrapper(model, cfg.optim_wrapper)
    # same initial weights for both students and teachers
    models['FDKD'].student.load_state_dict(models['Feat'].student.state_dict())
    models['FDKD'].teacher.load_state_dict(models['Feat'].teacher.state_dict())

    def step(name: str) -> float:
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        models[name].train_step(batch, wrappers[name])
        if device.type == 'cuda':
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for name in configs:  # warm-up
        for _ in range(3):
            step(name)
    times = {name: [] for name in configs}
    for _ in range(args.steps):  # interleaved, so drift hits both alike
        for name in configs:
            times[name].append(step(name))
    med = {name: statistics.median(t) for name, t in times.items()}
    ratio = med['FDKD'] / med['Feat']
    device_name = torch.cuda.get_device_name(device) \
        if device.type == 'cuda' else f'CPU ({torch.get_num_threads()} threads)'
    rows = [('Step (batch 32, audio student, visual teacher)', 'median ms'),
            ('Feat (mmrazor.L2Loss)', f'{med["Feat"] * 1e3:.1f}'),
            ('FDKD', f'{med["FDKD"] * 1e3:.1f}'),
            ('FDKD / Feat', f'{ratio:.3f}')]
    return f'Device: {device_name}, {args.steps} interleaved steps each\n\n' \
        + markdown_table(rows)


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
    parts.append(step_time_ratio(args))
    text = '\n\n'.join(parts)
    print('\n' + text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
