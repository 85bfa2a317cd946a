"""What the analysis tools share: the flags that load a pair of networks and
their paired data, the feature pass, and writing figures and numbers.

Imported by the tools in this folder as ``import _common`` (a script's own
folder is ``sys.path[0]``); the measurements themselves live in
:mod:`fdkd_plugin.analysis`.
"""
import argparse
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import fdkd_plugin  # noqa: F401  (compat fixes before any host import)
import matplotlib
import torch
from mmengine.config import DictAction

from fdkd_plugin.analysis import (FDKD_FEATURE, FeatureExtractor,
                                  Network, build_paired_loader,
                                  extract_paired_features, load_config,
                                  load_networks)

matplotlib.use('Agg')  # headless: PNG files only

import matplotlib.pyplot as plt  # noqa: E402

__all__ = [
    'add_pair_args', 'add_output_args', 'load_pair', 'pair_features', 'plt',
    'save_figure', 'write_json', 'write_csv', 'out_path'
]

PAIR_HELP = (
    'CONFIG CHECKPOINT [CONFIG CHECKPOINT]: two unimodal models (e.g. '
    'configs/unimodal/r18-w32_1xb32-12e_avdigits-audio.py and '
    'r18-w32_1xb32-12e_avdigits-visual.py with their selected.pth), or one '
    'fdkd.CrossModalDistill config with its checkpoint '
    '(its teacher and its student)')


def add_pair_args(parser: argparse.ArgumentParser,
                  multi_layer: bool = False) -> None:
    """The networks, data and feature flags of the feature tools
    (``--layer`` takes several layers with ``multi_layer``)."""
    parser.add_argument(
        'models', nargs='+', metavar='CONFIG CHECKPOINT', help=PAIR_HELP)
    parser.add_argument(
        '--data-config',
        help='config whose {split}_dataloader supplies the paired data; '
        'defaults to the first config. If its pipeline packs one modality '
        '(a unimodal config), its paired test_pipeline is used instead')
    parser.add_argument(
        '--split',
        choices=['train', 'val', 'test'],
        default='test',
        help='data split (default: test)')
    parser.add_argument('--batch-size', type=int, help='loader batch size')
    parser.add_argument(
        '--num-workers', type=int, help='loader workers (config default)')
    parser.add_argument(
        '--layer',
        nargs='+' if multi_layer else None,
        default=[str(FDKD_FEATURE)] if multi_layer else str(FDKD_FEATURE),
        help='recorded feature' + ('s' if multi_layer else '') +
        ', [inputs:|outputs:]MODULE[#RECORD_IDX], or auto (what FDKD\'s '
        "feature='auto' takes in each network; any backbone) (default: "
        f'{FDKD_FEATURE}, the pre-ReLU last-stage feature the FDKD '
        'distiller records), average-pooled to (N, C)' +
        ('; several give a per-layer chart, e.g. backbone.layer1 '
         'backbone.layer2 backbone.layer3 backbone.layer4'
         if multi_layer else ''))
    parser.add_argument(
        '--cutoff',
        type=float,
        default=0.5,
        help='frequency split cut-off ratio (default: 0.5, as FDKD)')
    parser.add_argument(
        '--keep-dc',
        action='store_true',
        help='keep each feature\'s mean in the low band (default: '
        'filtered, as FDKD)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device (default: %(default)s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of every config, key=value, e.g. '
        'test_dataloader.dataset.data_root=data/avdigits')


def add_output_args(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        '--out-dir',
        default='work_dirs/analysis',
        help='where the PNG and its numbers go (default: %(default)s)')
    parser.add_argument(
        '--name',
        default=name,
        help='file name stem of the outputs (default: %(default)s)')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')


def parse_pairs(parser: argparse.ArgumentParser,
                models: Sequence[str]) -> List[Tuple[str, str]]:
    if len(models) not in (2, 4):
        parser.error(f'expected CONFIG CHECKPOINT [CONFIG CHECKPOINT], got '
                     f'{len(models)} arguments: {list(models)}')
    return [(models[i], models[i + 1]) for i in range(0, len(models), 2)]


def load_pair(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> Tuple[List[Network], torch.utils.data.DataLoader]:
    """Two networks (two unimodal models, or a distillation model's teacher
    and student) and the paired loader of ``args.split``."""
    pairs = parse_pairs(parser, args.models)
    networks: List[Network] = []
    for config, ckpt in pairs:
        nets, _ = load_networks(config, ckpt, args.cfg_options, args.device)
        networks += nets
    if len(networks) != 2:
        parser.error(f'{len(networks)} networks from {args.models}: give two '
                     'unimodal models or one distillation model')
    if networks[0].name == networks[1].name:  # the same config twice
        networks = [
            Network(f'{n.name}_{tag}', n.model, n.modality)
            for n, tag in zip(networks, 'AB')
        ]
    data_cfg = load_config(args.data_config or pairs[0][0], args.cfg_options)
    loader, note = build_paired_loader(data_cfg,
                                       [n.modality
                                        for n in networks], args.split,
                                       args.batch_size, args.num_workers)
    print(f'data: {note}; {len(loader.dataset)} samples', flush=True)
    return networks, loader


def pair_features(
    networks: Sequence[Network],
    loader: torch.utils.data.DataLoader,
    layers: Sequence[str],
    progress: bool = True
) -> Tuple[Dict[str, Dict[str, torch.Tensor]], Optional[torch.Tensor]]:
    """One pass over the loader: ``feats[network][layer]`` and labels
    (``'auto'``: each network's own FDKD feature)."""
    extractors = {
        n.name: FeatureExtractor(n.model, list(layers), n.modality)
        for n in networks
    }
    try:
        feats, labels = extract_paired_features(
            extractors, loader, progress=progress)
    finally:
        for extractor in extractors.values():
            extractor.close()
    # keyed by the layer as the user wrote it
    return {
        name: {
            layer: per[str(src)]
            for layer, src in zip(layers, extractors[name].sources)
        }
        for name, per in feats.items()
    }, labels


def out_path(args: argparse.Namespace, ext: str) -> str:
    os.makedirs(args.out_dir, exist_ok=True)
    return osp.join(args.out_dir, f'{args.name}.{ext}')


def save_figure(fig, path: str, dpi: int = 100) -> str:
    fig.savefig(path, dpi=dpi, bbox_inches='tight')
    plt.close(fig)
    print(f'figure: {path}', flush=True)
    return path


def write_json(path: str, obj: dict) -> str:
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')
    print(f'numbers: {path}', flush=True)
    return path


def write_csv(path: str, header: Sequence[str],
              rows: Sequence[Sequence]) -> str:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    print(f'numbers: {path}', flush=True)
    return path
