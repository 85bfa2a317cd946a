"""t-SNE of teacher and student features, by class and modality (Fig. 6).

The features of both networks on the same samples (default: the pre-ReLU
pooled last-stage feature FDKD distills) for the chosen classes are embedded
together with scikit-learn's TSNE; points are coloured by class and marked
by network. Give a distillation config and checkpoint (teacher and student
are both in it) or two unimodal models::

    python tools/analysis_tools/tsne.py \\
        configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py \\
        FDKD.pth --classes 0 1 2

Writes ``OUT/NAME.png``, ``OUT/NAME.csv`` (one row per point: network,
modality, class, x, y) and ``OUT/NAME.json`` (silhouette scores by class and
by network, in feature space and in the embedding: a modality score near 0
means the two networks' features overlap, near 1 that they form separate
clusters).
"""
import argparse
import os.path as osp
from typing import List, Optional

import numpy as np
import torch

import _common

from fdkd_plugin.analysis import BANDS, split_bands

MARKERS = ['o', '^']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    _common.add_pair_args(parser)
    parser.add_argument(
        '--classes',
        nargs='+',
        type=int,
        help='class indices to show (default: all)')
    parser.add_argument(
        '--band',
        choices=BANDS,
        default='raw',
        help='embed the raw feature or one band (default: raw)')
    parser.add_argument(
        '--perplexity',
        type=float,
        default=30.0,
        help='t-SNE perplexity, lowered to (n - 1) / 3 for few points '
        '(default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='t-SNE seed')
    _common.add_output_args(parser, 'tsne')
    args = parser.parse_args(argv)
    args.parser = parser
    return args


def silhouettes(x: np.ndarray, classes: np.ndarray,
                networks: np.ndarray) -> dict:
    """Silhouette scores of ``x`` grouped by class and by network (None
    where a grouping has a single group)."""
    from sklearn.metrics import silhouette_score
    out = {}
    for name, groups in (('class', classes), ('network', networks)):
        k = len(np.unique(groups))
        out[name] = float(silhouette_score(x, groups)) \
            if 1 < k < len(x) else None
    return out


def plot(emb: np.ndarray, classes: np.ndarray, networks: np.ndarray,
         labels: List[str], title: str):
    plt = _common.plt
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    cmap = plt.get_cmap('tab10')
    uniq = np.unique(classes)
    for j, label in enumerate(labels):
        for i, c in enumerate(uniq):
            m = (networks == j) & (classes == c)
            ax.scatter(
                emb[m, 0],
                emb[m, 1],
                s=12,
                marker=MARKERS[j],
                color=cmap(i % 10),
                alpha=0.75,
                linewidths=0)
    handles = [
        plt.Line2D([], [],
                   marker='s',
                   linestyle='',
                   color=cmap(i % 10),
                   label=f'class {c}') for i, c in enumerate(uniq)
    ] + [
        plt.Line2D(
            [], [], marker=MARKERS[j], linestyle='', color='k', label=label)
        for j, label in enumerate(labels)
    ]
    ax.legend(
        handles=handles,
        fontsize=7,
        loc='center left',
        bbox_to_anchor=(1.0, 0.5))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return fig


def main(argv: Optional[List[str]] = None) -> dict:
    from sklearn.manifold import TSNE
    args = parse_args(argv)
    networks, loader = _common.load_pair(args.parser, args)
    feats, labels = _common.pair_features(
        networks, loader, [args.layer], progress=not args.no_progress)
    if labels is None:
        args.parser.error('t-SNE colours by class: the data has no labels')
    keep = torch.ones_like(labels, dtype=torch.bool) if args.classes is None \
        else torch.isin(labels, torch.tensor(args.classes))
    if int(keep.sum()) < 2:
        args.parser.error(f'--classes {args.classes}: {int(keep.sum())} '
                          f'samples in the {args.split} split')
    parts = []
    for n in networks:
        x = split_bands(feats[n.name][args.layer], args.cutoff,
                        args.keep_dc)[args.band]
        parts.append(x[keep])
    if parts[0].shape[1] != parts[1].shape[1]:
        args.parser.error(f'the networks\' features have widths '
                          f'{parts[0].shape[1]} and {parts[1].shape[1]}: '
                          'a joint t-SNE needs one width')
    x = torch.cat(parts).double().numpy()  # (2M, D)
    cls = np.concatenate([labels[keep].numpy()] * 2)
    net = np.repeat([0, 1], len(parts[0]))
    perplexity = min(args.perplexity, (len(x) - 1) / 3)
    if perplexity != args.perplexity:
        print(f'perplexity {args.perplexity} -> {perplexity:.2f} for '
              f'{len(x)} points')
    emb = TSNE(
        n_components=2,
        perplexity=perplexity,
        init='pca',
        learning_rate='auto',
        random_state=args.seed).fit_transform(x)
    result = dict(
        networks=[dict(name=n.name, modality=n.modality) for n in networks],
        layer=args.layer,
        band=args.band,
        split=args.split,
        classes=sorted(int(c) for c in np.unique(cls)),
        points_per_network=int(len(parts[0])),
        perplexity=perplexity,
        silhouette_features=silhouettes(x, cls, net),
        silhouette_embedding=silhouettes(emb, cls, net))
    print(f'silhouette (features): {result["silhouette_features"]}; '
          f'(embedding): {result["silhouette_embedding"]}')
    rows = [[
        networks[j].name, networks[j].modality,
        int(c),
        float(e[0]),
        float(e[1])
    ] for j, c, e in zip(net, cls, emb)]
    _common.write_csv(
        _common.out_path(args, 'csv'),
        ['network', 'modality', 'class', 'x', 'y'], rows)
    title = (f't-SNE of {args.band} features, {args.split} split, '
             f'{len(parts[0])} samples x 2 networks')
    _common.save_figure(
        plot(emb, cls, net, [n.label for n in networks], title),
        _common.out_path(args, 'png'))
    _common.write_json(_common.out_path(args, 'json'), result)
    return result


if __name__ == '__main__':
    main()
