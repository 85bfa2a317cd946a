"""Sensitivity of a distillation run to lambda_1 / lambda_2 (Fig. 5).

Trains and tests one run per point of the grid ``--lambda-low`` x
``--lambda-high`` (default 0.5 1 3 5 each, as the paper) with
``fdkd_plugin.utils.runs.train_and_test`` and ``--cfg-options
model.distiller.lambda_low=.. model.distiller.lambda_high=..``, one work dir
per point (``WORK_DIR/low{l1}_high{l2}``), then plots the test metric
against the lambdas. Finished points are reused and interrupted ones resume,
so the command can be rerun; ``--collect-only`` trains nothing and plots
whatever points have finished::

    python tools/analysis_tools/sensitivity.py \\
        configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py \\
        --teacher-ckpt \\
        work_dirs/r18-w32_1xb32-12e_avdigits-visual/selected.pth \\
        --work-dir work_dirs/sensitivity/avdigits_audio_from_visual
    python tools/analysis_tools/sensitivity.py \\
        configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py \\
        --collect-only \\
        --work-dir work_dirs/sensitivity/avdigits_audio_from_visual

Writes ``OUT/NAME.png`` (metric against lambda_1, one line per lambda_2, and
the grid as a heat map), ``OUT/NAME.csv`` and ``OUT/NAME.json``.
"""
import argparse
import json
import math
import os.path as osp
import sys
from typing import List, Optional

import numpy as np

import _common

from fdkd_plugin.config_names import config_arg
from fdkd_plugin.utils import runs

PAPER_GRID = [0.5, 1.0, 3.0, 5.0]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument(
        'config', type=config_arg, help='distillation config (FDKD distiller)')
    parser.add_argument(
        '--work-dir',
        help='one sub-folder per grid point (default: '
        'work_dirs/sensitivity/CONFIG_NAME)')
    parser.add_argument(
        '--lambda-low',
        nargs='+',
        type=float,
        default=PAPER_GRID,
        help='lambda_1 values (default: 0.5 1 3 5)')
    parser.add_argument(
        '--lambda-high',
        nargs='+',
        type=float,
        default=PAPER_GRID,
        help='lambda_2 values (default: 0.5 1 3 5)')
    parser.add_argument(
        '--data-root', help='point every loader at this data root')
    parser.add_argument(
        '--epochs', type=int, help='shorten the schedule to this many epochs')
    parser.add_argument(
        '--teacher-ckpt', help='teacher checkpoint (model.teacher_ckpt)')
    parser.add_argument('--seed', type=int, help='randomness.seed')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='more key=value overrides for every run')
    parser.add_argument(
        '--metric',
        default='accuracy/top1',
        help='test metric to plot (default: %(default)s)')
    parser.add_argument(
        '--collect-only',
        action='store_true',
        help='train nothing: plot the finished points in --work-dir')
    parser.add_argument(
        '--fresh', action='store_true', help='retrain finished points')
    _common.add_output_args(parser, 'sensitivity')
    args = parser.parse_args(argv)
    for flag in ('lambda_low', 'lambda_high'):
        bad = [v for v in getattr(args, flag) if not v >= 0]
        if bad:
            parser.error(f'--{flag.replace("_", "-")} {bad}: must be >= 0')
    if args.epochs is not None and args.epochs < 1:
        parser.error(f'--epochs={args.epochs} must be >= 1')
    if args.work_dir is None:
        stem = osp.splitext(osp.basename(args.config))[0]
        args.work_dir = osp.join('work_dirs', 'sensitivity', stem)
    return args


def point_dir(work_dir: str, low: float, high: float) -> str:
    return osp.join(work_dir, f'low{low:g}_high{high:g}')


def run_options(args: argparse.Namespace, low: float,
                high: float) -> List[str]:
    if args.data_root:
        opts = runs.data_options(args.data_root, args.epochs)
    else:  # the schedule options only
        opts = [
            o for o in runs.data_options('', args.epochs)
            if '.dataset.data_root=' not in o
        ]
    if args.teacher_ckpt:
        opts.append(f'model.teacher_ckpt={args.teacher_ckpt}')
    if args.seed is not None:
        opts.append(f'randomness.seed={args.seed}')
    return opts + list(args.cfg_options) + [
        f'model.distiller.lambda_low={low}',
        f'model.distiller.lambda_high={high}'
    ]


def collect(run_dir: str) -> Optional[dict]:
    done = osp.join(runs.REPO_ROOT, run_dir, 'done.json')
    if not osp.isfile(done):
        return None
    with open(done) as f:
        return json.load(f)


def plot(lows: List[float], highs: List[float], grid: np.ndarray, metric: str,
         title: str):
    plt = _common.plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    x = np.arange(len(lows))
    cmap = plt.get_cmap('viridis')
    for j, high in enumerate(highs):
        axes[0].plot(
            x,
            grid[:, j],
            marker='o',
            color=cmap(j / max(1,
                               len(highs) - 1)),
            label=f'lambda_2 = {high:g}')
    axes[0].set_xticks(x)
    axes[0].set_xticklabels([f'{v:g}' for v in lows])
    axes[0].set_xlabel('lambda_1 (low-frequency loss weight)')
    axes[0].set_ylabel(metric)
    axes[0].legend(fontsize=7)
    masked = np.ma.masked_invalid(grid.T)  # rows: lambda_2
    im = axes[1].imshow(masked, origin='lower', cmap='viridis', aspect='auto')
    for i in range(len(lows)):
        for j in range(len(highs)):
            text = '-' if math.isnan(grid[i, j]) else f'{grid[i, j]:.1f}'
            axes[1].text(
                i, j, text, ha='center', va='center', fontsize=8, color='w')
    axes[1].set_xticks(x)
    axes[1].set_xticklabels([f'{v:g}' for v in lows])
    axes[1].set_yticks(np.arange(len(highs)))
    axes[1].set_yticklabels([f'{v:g}' for v in highs])
    axes[1].set_xlabel('lambda_1')
    axes[1].set_ylabel('lambda_2 (high-frequency loss weight)')
    fig.colorbar(im, ax=axes[1], label=metric)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def main(argv: Optional[List[str]] = None) -> dict:
    from tqdm import tqdm
    args = parse_args(argv)
    points = [(lo, hi) for lo in args.lambda_low for hi in args.lambda_high]
    grid = np.full((len(args.lambda_low), len(args.lambda_high)), np.nan)
    records, missing = [], []
    bar = tqdm(points, desc='grid', disable=args.no_progress)
    for lo, hi in bar:
        run_dir = point_dir(args.work_dir, lo, hi)
        bar.set_postfix_str(osp.basename(run_dir))
        if args.collect_only:
            metrics = collect(run_dir)
        else:
            metrics = runs.train_and_test(
                args.config,
                run_dir,
                run_options(args, lo, hi),
                fresh=args.fresh,
                quiet=True)
        if metrics is None or args.metric not in metrics:
            missing.append(run_dir)
            continue
        value = float(metrics[args.metric])
        grid[args.lambda_low.index(lo), args.lambda_high.index(hi)] = value
        records.append(
            dict(
                lambda_low=lo,
                lambda_high=hi,
                value=value,
                minutes=metrics.get('minutes'),
                work_dir=run_dir))
    if missing:
        print(f'{len(missing)} of {len(points)} points not finished: ' +
              ', '.join(missing))
    if not records:
        sys.exit(f'no finished runs with {args.metric} under {args.work_dir}')
    best = max(records, key=lambda r: r['value'])
    result = dict(
        config=args.config,
        metric=args.metric,
        epochs=args.epochs,
        lambda_low=args.lambda_low,
        lambda_high=args.lambda_high,
        runs=records,
        missing=missing,
        best=best)
    print(f'best {args.metric} {best["value"]:.2f} at lambda_1 = '
          f'{best["lambda_low"]:g}, lambda_2 = {best["lambda_high"]:g}')
    _common.write_csv(
        _common.out_path(args,
                         'csv'), ['lambda_low', 'lambda_high', args.metric],
        [[r['lambda_low'], r['lambda_high'], r['value']] for r in records])
    title = (f'{osp.basename(args.config)}: {len(records)}/{len(points)} '
             'points' + (f', {args.epochs} epochs' if args.epochs else ''))
    _common.save_figure(
        plot(args.lambda_low, args.lambda_high, grid, args.metric, title),
        _common.out_path(args, 'png'))
    _common.write_json(_common.out_path(args, 'json'), result)
    return result


if __name__ == '__main__':
    main()
