"""CKA between two networks' features: raw, low and high frequency (Fig. 1).

Both networks see the same samples, each its own modality of the paired data
set; their features (default: the pre-ReLU pooled last-stage feature the
FDKD distiller records) are split with ``fdkd_plugin.frequency
.frequency_split`` and compared band by band with linear CKA (Appendix B).
A chance level (CKA after shuffling one side's samples) is reported next to
each score: linear CKA of unrelated features is not 0 when n is not much
larger than the width.

Two unimodal models::

    python tools/analysis_tools/feature_cka.py \\
        configs/unimodal/r18-w32_1xb32-12e_avdigits-audio.py AUDIO.pth \\
        configs/unimodal/r18-w32_1xb32-12e_avdigits-visual.py VISUAL.pth \\
        --out-dir OUT

or the teacher and student of a distillation checkpoint::

    python tools/analysis_tools/feature_cka.py \\
        configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py \\
        FDKD.pth

``--metric cosine`` scores the mean per-sample cosine instead (the metric
of the public FDKD notebook; both features need one width), and
``--keep-dc`` keeps each feature's mean in the low band: together they show
whether "the low band is the most aligned" depends on the DC bin or on the
metric.

Writes ``OUT/NAME.png`` (bars per band, one group per ``--layer``) and
``OUT/NAME.json``.
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch

import _common

from fdkd_plugin.analysis import BANDS, band_cka, band_cosine

COLORS = {'raw': '#7f7f7f', 'low': '#1f77b4', 'high': '#d62728'}
METRICS = {'cka': band_cka, 'cosine': band_cosine}
LABELS = {'cka': 'linear CKA', 'cosine': 'mean per-sample cosine'}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    _common.add_pair_args(parser, multi_layer=True)
    parser.add_argument(
        '--permutations',
        type=int,
        default=10,
        help='shuffles of one side for the chance level (0: none; '
        'default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='shuffle seed')
    parser.add_argument(
        '--metric',
        choices=sorted(METRICS),
        default='cka',
        help='cka (Appendix B) or cosine (mean per-sample cosine of paired '
        'features of one width); default: %(default)s')
    _common.add_output_args(parser, 'feature_cka')
    args = parser.parse_args(argv)
    args.parser = parser
    return args


def chance_cka(x: torch.Tensor,
               y: torch.Tensor,
               permutations: int,
               seed: int,
               cutoff: float,
               keep_dc: bool,
               metric: str = 'cka') -> Dict[str, float]:
    """Mean band score of ``x`` against ``y`` with its rows shuffled."""
    if permutations <= 0:
        return {}
    gen = torch.Generator().manual_seed(seed)
    scores = [
        METRICS[metric](x, y[torch.randperm(len(y), generator=gen)], cutoff,
                        keep_dc) for _ in range(permutations)
    ]
    return {b: float(np.mean([s[b] for s in scores])) for b in BANDS}


def plot(result: dict, title: str, metric: str = 'cka'):
    plt = _common.plt
    layers = list(result['layers'])
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(layers) + 2), 3.4))
    width = 0.26
    x = np.arange(len(layers))
    for i, band in enumerate(BANDS):
        vals = [result['layers'][lay][metric][band] for lay in layers]
        pos = x + (i - 1) * width
        bars = ax.bar(pos, vals, width, color=COLORS[band], label=band)
        ax.bar_label(bars, fmt='%.3f', fontsize=7, padding=1)
        chance = [
            result['layers'][lay]['chance'].get(band, np.nan) for lay in layers
        ]
        if not np.all(np.isnan(chance)):
            ax.hlines(
                chance,
                pos - width / 2,
                pos + width / 2,
                colors='k',
                linestyles='--',
                linewidth=1,
                label='chance (shuffled)' if i == 0 else None)
    ax.set_xticks(x)
    ax.set_xticklabels(layers if len(layers) > 1 else ['feature'], fontsize=7)
    ax.set_ylabel(LABELS[metric])
    every = [result['layers'][lay][metric][b] for lay in layers for b in BANDS]
    top, bottom = max(every), min(every)
    ax.set_ylim(min(0, bottom * 1.25), min(1.05, max(0.1, top * 1.25)))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=4, loc='upper left')
    return fig


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    networks, loader = _common.load_pair(args.parser, args)
    feats, _ = _common.pair_features(
        networks, loader, args.layer, progress=not args.no_progress)
    a, b = networks
    result = dict(
        networks=[dict(name=n.name, modality=n.modality) for n in networks],
        split=args.split,
        cutoff=args.cutoff,
        keep_dc=args.keep_dc,
        metric=args.metric,
        permutations=args.permutations,
        layers={})
    for layer in args.layer:
        x, y = feats[a.name][layer], feats[b.name][layer]
        try:
            scores = METRICS[args.metric](x, y, args.cutoff, args.keep_dc)
        except ValueError as err:
            args.parser.error(f'--layer {layer}: {err}')
        order = ' > '.join(sorted(BANDS, key=lambda k: -scores[k]))
        result['layers'][layer] = dict(
            num_samples=int(x.shape[0]),
            dims=[int(x.shape[1]), int(y.shape[1])],
            **{args.metric: scores},
            chance=chance_cka(x, y, args.permutations, args.seed, args.cutoff,
                              args.keep_dc, args.metric),
            order=order)
        print(f'{layer}: {args.metric} ' + ', '.join(f'{k} {v:.4f}'
                                           for k, v in scores.items()) +
              f' ({order})')
    n = next(iter(result['layers'].values()))['num_samples']
    title = (f'{"CKA" if args.metric == "cka" else "cosine"} {a.label} vs '
             f'{b.label}, {args.split} (n={n}'
             f'{", DC kept" if args.keep_dc else ""})')
    _common.save_figure(
        plot(result, title, args.metric), _common.out_path(args, 'png'))
    _common.write_json(_common.out_path(args, 'json'), result)
    return result


if __name__ == '__main__':
    main()
