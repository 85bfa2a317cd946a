"""Mean and std of two networks' features, raw / low / high (Fig. 2).

The scale gap between modalities that motivates FDKD's standardization
(paper §3.2): for each network, the mean and the standard deviation of all
its feature values over the data set (``N x D`` numbers), for the raw
feature and its low and high bands; ``--per-class`` adds them per class.
With the default DC filter the bands are zero-mean per sample, so their
mean is 0 by construction and only their std is informative (``--keep-dc``
puts each sample's mean into the low band).

::

    python tools/analysis_tools/feature_stats.py \\
        configs/unimodal/r18-w32_1xb32-12e_avdigits-audio.py AUDIO.pth \\
        configs/unimodal/r18-w32_1xb32-12e_avdigits-visual.py VISUAL.pth \\
        --per-class

Writes ``OUT/NAME.png`` and ``OUT/NAME.json`` (per network, band and class:
mean, std; and the gap first minus second network).
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch

import _common

from fdkd_plugin.analysis import BANDS, split_bands

COLORS = ['#ff7f0e', '#2ca02c']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    _common.add_pair_args(parser)
    parser.add_argument(
        '--per-class',
        action='store_true',
        help='also plot the raw feature\'s mean and std per class')
    _common.add_output_args(parser, 'feature_stats')
    args = parser.parse_args(argv)
    args.parser = parser
    return args


def moments(x: torch.Tensor) -> Dict[str, float]:
    """Mean and (population) std of all values of ``x``."""
    x = x.double()
    return dict(mean=float(x.mean()), std=float(x.std(unbiased=False)))


def network_stats(feat: torch.Tensor, labels: Optional[torch.Tensor],
                  cutoff: float, keep_dc: bool) -> Dict[str, dict]:
    out = {}
    for band, x in split_bands(feat, cutoff, keep_dc).items():
        entry = moments(x)
        if labels is not None:
            entry['per_class'] = {
                str(int(c)):
                dict(
                    count=int((labels == c).sum()), **moments(x[labels == c]))
                for c in torch.unique(labels)
            }
        out[band] = entry
    return out


def _bars(ax, groups: List[str], series: List[List[float]], names: List[str],
          ylabel: str) -> None:
    width = 0.8 / len(series)
    x = np.arange(len(groups))
    for i, (vals, name) in enumerate(zip(series, names)):
        bars = ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            vals,
            width,
            color=COLORS[i % len(COLORS)],
            label=name)
        if len(groups) <= 4:
            # '0.000', not '-0.000', for the zero-mean bands
            ax.bar_label(
                bars, [f'{v:.3f}' if abs(v) >= 5e-4 else '0' for v in vals],
                fontsize=7,
                padding=1)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.axhline(0, color='k', linewidth=0.6)


def plot(result: dict, per_class: bool):
    plt = _common.plt
    nets = result['networks']
    names = [f'{n["name"]} ({n["modality"]})' for n in nets]
    rows = 2 if per_class else 1
    fig, axes = plt.subplots(rows, 2, figsize=(8, 3.0 * rows), squeeze=False)
    for j, stat in enumerate(('mean', 'std')):
        _bars(axes[0, j], list(BANDS),
              [[result['stats'][n['name']][b][stat] for b in BANDS]
               for n in nets], names, f'feature {stat}')
        axes[0, j].set_title(
            f'{stat} over the {result["split"]} split', fontsize=9)
        if per_class:
            classes = sorted(
                result['stats'][nets[0]['name']]['raw']['per_class'], key=int)
            _bars(axes[1, j], classes, [[
                result['stats'][n['name']]['raw']['per_class'][c][stat]
                for c in classes
            ] for n in nets], names, f'raw {stat}')
            axes[1, j].set_xlabel('class')
            axes[1, j].set_title(f'raw feature {stat} per class', fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='upper center', ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    networks, loader = _common.load_pair(args.parser, args)
    feats, labels = _common.pair_features(
        networks, loader, [args.layer], progress=not args.no_progress)
    if args.per_class and labels is None:
        args.parser.error('--per-class needs labelled data')
    a, b = networks
    stats = {
        n.name:
        network_stats(feats[n.name][args.layer], labels, args.cutoff,
                      args.keep_dc)
        for n in networks
    }
    gap = {
        band: {
            stat: stats[a.name][band][stat] - stats[b.name][band][stat]
            for stat in ('mean', 'std')
        }
        for band in BANDS
    }
    result = dict(
        networks=[dict(name=n.name, modality=n.modality) for n in networks],
        layer=args.layer,
        split=args.split,
        num_samples=int(feats[a.name][args.layer].shape[0]),
        cutoff=args.cutoff,
        keep_dc=args.keep_dc,
        stats=stats,
        gap=gap)
    for band in BANDS:
        print(f'{band}: ' + '; '.join(
            f'{n.label} mean {stats[n.name][band]["mean"]:.4f} std '
            f'{stats[n.name][band]["std"]:.4f}' for n in networks))
    _common.save_figure(
        plot(result, args.per_class), _common.out_path(args, 'png'))
    _common.write_json(_common.out_path(args, 'json'), result)
    return result


if __name__ == '__main__':
    main()
