"""Which loss term drives the student, over training: the per-term gradient
shares that ``fdkd.LossGradientHook`` logs (``loss_gradients.jsonl``).

Each RUN is a work dir holding ``loss_gradients.jsonl`` or the file itself;
one column per run, the share of each term's gradient norm on the student's
distilled feature stacked over the training iterations (top) and the norms
on a log scale (bottom)::

    python tools/train.py \\
        configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-visual-from-audio.py \\
        --cfg-options default_hooks.loss_gradients.type=fdkd.LossGradientHook \
        default_hooks.loss_gradients.interval=10
    python tools/analysis_tools/gradient_shares.py \\
        work_dirs/fdkd_r18-w32_1xb32-12e_avdigits-visual-from-audio \\
        --labels mean

Terms whose share never reaches ``--min-share`` are drawn as one "other"
band. Writes ``OUT/NAME.png``, ``OUT/NAME.csv`` (run, step, term, norm,
share, cosine with the total) and ``OUT/NAME.json`` (per run and term: mean
share over all measurements and over the second half of training, mean
cosine).
"""
import argparse
import json
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

import _common

FILE = 'loss_gradients.jsonl'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument(
        'runs', nargs='+', metavar='RUN',
        help=f'work dir holding {FILE}, or the file')
    parser.add_argument(
        '--labels', nargs='+', help='one title per run (default: the dir '
        'names)')
    parser.add_argument(
        '--min-share', type=float, default=0.01,
        help='terms whose share stays below this are drawn as "other" '
        '(default: %(default)s)')
    _common.add_output_args(parser, 'gradient_shares')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        parser.error(f'{len(args.labels)} --labels for {len(args.runs)} runs')
    args.files = []
    for run in args.runs:
        path = osp.join(run, FILE) if osp.isdir(run) else run
        if not osp.isfile(path):
            parser.error(f'{path}: no such file; train with --cfg-options '
                         'default_hooks.loss_gradients.type='
                         'fdkd.LossGradientHook to write it')
        args.files.append(path)
    if not args.labels:
        args.labels = [
            osp.basename(osp.normpath(r if osp.isdir(r) else osp.dirname(
                osp.abspath(r)))) for r in args.runs
        ]
    return args


def read_rows(path: str) -> List[dict]:
    """The measurements of one file in step order; a resumed run's rows
    replace those of the run it continues (the last row of a step wins)."""
    by_step: Dict[int, dict] = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                step = int(row['step'])
                row['share'], row['norm'], row['cosine']
            except (ValueError, KeyError, TypeError) as err:
                if not line.endswith('\n'):
                    continue  # the last line, cut off by a kill
                raise ValueError(f'{path}, line {number}: not a '
                                 f'LossGradientHook row ({err})') from err
            by_step[step] = row
    if not by_step:
        raise ValueError(f'{path}: no measurement (did training reach the '
                         "hook's first iteration?)")
    return [by_step[s] for s in sorted(by_step)]


def summarize(rows: List[dict]) -> Dict[str, dict]:
    """Per term: mean share (all, second half), mean cosine, mean norm."""
    terms = sorted({t for r in rows for t in r['share']})
    half = rows[len(rows) // 2:]
    out = {}
    for t in terms:
        out[t] = dict(
            mean_share=float(np.mean([r['share'].get(t, 0.0)
                                      for r in rows])),
            mean_share_second_half=float(
                np.mean([r['share'].get(t, 0.0) for r in half])),
            mean_cosine=float(np.mean([r['cosine'].get(t, 0.0)
                                       for r in rows])),
            mean_norm=float(np.mean([r['norm'].get(t, 0.0) for r in rows])))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]['mean_share']))


def plot(runs: Dict[str, List[dict]], min_share: float):
    plt = _common.plt
    fig, axes = plt.subplots(
        2, len(runs), figsize=(4.6 * len(runs), 6), squeeze=False,
        sharex='col')
    colors = {}
    cycle = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for col, (label, rows) in enumerate(runs.items()):
        steps = [r['step'] for r in rows]
        order = list(summarize(rows))
        shown = [t for t in order
                 if max(r['share'].get(t, 0.0) for r in rows) >= min_share]
        rest = [t for t in order if t not in shown]
        for t in shown:
            colors.setdefault(t, cycle[len(colors) % len(cycle)])
        stacks = [[r['share'].get(t, 0.0) for r in rows] for t in shown]
        labels, band_colors = list(shown), [colors[t] for t in shown]
        if rest:
            stacks.append([sum(r['share'].get(t, 0.0) for t in rest)
                           for r in rows])
            labels.append(f'other ({len(rest)} terms)')
            band_colors.append('lightgrey')
        top, bottom = axes[0][col], axes[1][col]
        top.stackplot(steps, stacks, labels=labels, colors=band_colors)
        top.set_ylim(0, 1)
        top.set_title(label, fontsize=9)
        top.set_ylabel('share of summed gradient norms')
        top.legend(fontsize=6, loc='lower left')
        for t in shown:
            norms = [max(r['norm'].get(t, 0.0), 1e-12) for r in rows]
            bottom.plot(steps, norms, color=colors[t], label=t)
        bottom.plot(steps, [max(r['total_norm'], 1e-12) for r in rows],
                    color='k', linestyle='--', label='total')
        bottom.set_yscale('log')
        bottom.set_xlabel('training iteration')
        bottom.set_ylabel('gradient norm on the feature')
        bottom.legend(fontsize=6)
    fig.tight_layout()
    return fig


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    runs = {}
    for label, path in zip(args.labels, args.files):
        if label in runs:
            raise SystemExit(f'two runs labelled {label!r}: pass --labels')
        runs[label] = read_rows(path)
    summary = {}
    csv_rows = []
    for label, rows in runs.items():
        summary[label] = dict(
            measurements=len(rows),
            steps=[rows[0]['step'], rows[-1]['step']],
            feature=rows[-1].get('feature'),
            terms=summarize(rows))
        for r in rows:
            for t in r['share']:
                csv_rows.append([label, r['step'], t, r['norm'][t],
                                 r['share'][t], r['cosine'][t]])
        print(f'{label}: {len(rows)} measurements, steps '
              f'{rows[0]["step"]}..{rows[-1]["step"]}; mean share:')
        for t, s in summary[label]['terms'].items():
            print(f'  {t:40s} {s["mean_share"]:.4f} (second half '
                  f'{s["mean_share_second_half"]:.4f}, cos '
                  f'{s["mean_cosine"]:+.3f})')
    _common.write_csv(_common.out_path(args, 'csv'),
                      ['run', 'step', 'term', 'norm', 'share', 'cosine'],
                      csv_rows)
    _common.save_figure(plot(runs, args.min_share),
                        _common.out_path(args, 'png'))
    _common.write_json(_common.out_path(args, 'json'), summary)
    return summary


if __name__ == '__main__':
    main()
