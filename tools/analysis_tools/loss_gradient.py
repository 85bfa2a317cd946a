"""MSE vs LogMSE: loss and gradient over a range of differences (Fig. 4).

For each difference ``d`` the student value is ``t + d`` against a teacher
value ``t`` (``--teacher-value``, default 0) in a 1 x 1 feature, passed
through the registered losses ``fdkd.StdMSELoss(standardize=False)`` (Eq. 4,
``d^2``) and ``fdkd.LogMSELoss(standardize=False)`` (Eq. 5,
``(sigma(t + d) - sigma(t))^2`` with ``sigma(x) = sign(x) log(1 + |x|)``);
the gradient with respect to the student value comes from autograd. No data
or model is needed::

    python tools/analysis_tools/loss_gradient.py --range -10 10

Writes ``OUT/NAME.png`` (loss and gradient panels), ``OUT/NAME.csv`` (one
row per difference) and ``OUT/NAME.json`` (largest gradient of each loss).
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch

import _common

from fdkd_plugin.registry import MODELS

LOSSES = {
    'mse': dict(type='fdkd.StdMSELoss', standardize=False),
    'logmse': dict(type='fdkd.LogMSELoss', standardize=False),
}
LABELS = {'mse': 'MSE (Eq. 4)', 'logmse': 'LogMSE (Eq. 5)'}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument(
        '--range',
        nargs=2,
        type=float,
        default=[-10.0, 10.0],
        metavar=('MIN', 'MAX'),
        help='range of the difference student - teacher (default: -10 10)')
    parser.add_argument(
        '--num',
        type=int,
        default=401,
        help='number of differences (default: %(default)s)')
    parser.add_argument(
        '--teacher-value',
        type=float,
        default=0.0,
        help='teacher value t; LogMSE depends on t, not only on d '
        '(default: %(default)s)')
    _common.add_output_args(parser, 'loss_gradient')
    args = parser.parse_args(argv)
    if not args.range[0] < args.range[1]:
        parser.error(f'--range {args.range}: MIN must be < MAX')
    if args.num < 2:
        parser.error(f'--num={args.num} must be >= 2')
    return args


def loss_and_grad(loss: torch.nn.Module,
                  diffs: np.ndarray,
                  teacher_value: float,
                  progress: bool = True) -> Dict[str, np.ndarray]:
    """The loss and d loss / d student at each difference (float64)."""
    from tqdm import tqdm
    teacher = torch.full((1, 1), teacher_value, dtype=torch.float64)
    values, grads = [], []
    for d in tqdm(diffs, desc=type(loss).__name__, disable=not progress):
        student = (teacher + float(d)).requires_grad_(True)  # (1, 1)
        value = loss(student_feat=student, teacher_feat=teacher)
        grad, = torch.autograd.grad(value, student)
        values.append(value.item())
        grads.append(grad.item())
    return dict(loss=np.array(values), grad=np.array(grads))


def plot(diffs: np.ndarray, curves: Dict[str, Dict[str, np.ndarray]],
         teacher_value: float):
    plt = _common.plt
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for name, curve in curves.items():
        axes[0].plot(diffs, curve['loss'], label=LABELS[name])
        axes[1].plot(diffs, curve['grad'], label=LABELS[name])
    for ax, what in zip(axes, ('loss', 'gradient d loss / d student')):
        ax.set_xlabel(f'difference student - teacher (teacher = '
                      f'{teacher_value:g})')
        ax.set_ylabel(what)
        ax.axhline(0, color='k', linewidth=0.5)
        ax.legend(fontsize=8)
    lo = min(curves['logmse']['grad'].min(), -1.0)
    hi = max(curves['logmse']['grad'].max(), 1.0)
    axes[1].set_ylim(lo * 1.6, hi * 1.6)  # MSE's gradient leaves the frame
    axes[0].set_title('loss', fontsize=9)
    axes[1].set_title('gradient (MSE: 2d, clipped)', fontsize=9)
    fig.tight_layout()
    return fig


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    diffs = np.linspace(args.range[0], args.range[1], args.num)
    curves = {
        name:
        loss_and_grad(
            MODELS.build(cfg), diffs, args.teacher_value, not args.no_progress)
        for name, cfg in LOSSES.items()
    }
    rows = [[float(d)] +
            [float(curves[n][k][i]) for n in curves for k in ('loss', 'grad')]
            for i, d in enumerate(diffs)]
    _common.write_csv(
        _common.out_path(args, 'csv'), ['difference'] +
        [f'{n}_{k}' for n in curves for k in ('loss', 'grad')], rows)
    summary = dict(
        teacher_value=args.teacher_value,
        range=list(args.range),
        num=args.num,
        losses={
            n: str(MODELS.build(cfg))
            for n, cfg in LOSSES.items()
        })
    for name, curve in curves.items():
        i = int(np.argmax(np.abs(curve['grad'])))
        summary[name] = dict(
            max_abs_grad=float(abs(curve['grad'][i])),
            at_difference=float(diffs[i]),
            loss_at_max_difference=float(curve['loss'][-1]))
        print(f'{name}: max |grad| {abs(curve["grad"][i]):.4f} at '
              f'd = {diffs[i]:.3f}')
    _common.save_figure(
        plot(diffs, curves, args.teacher_value), _common.out_path(args, 'png'))
    _common.write_json(_common.out_path(args, 'json'), summary)
    return summary


if __name__ == '__main__':
    main()
