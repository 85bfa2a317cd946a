"""Look at paired samples as the model gets them, before training.

Draws N samples of a config's data set *after* its pipeline, one PNG per
sample with one panel per modality: a spectrogram for audio, the frames of
a clip side by side, RGB and depth next to each other, the segmentation
mask with its classes, the tokens of a text. Same spirit and flags as
MMPretrain's ``tools/visualization/browse_dataset.py``::

    python tools/visualization/browse_dataset.py \\
        configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py \\
        --show-number 8
    python tools/visualization/browse_dataset.py \\
        configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb.py \\
        --phase val --output-dir vis/nyu

Inputs are drawn min-max scaled per panel (the pipelines normalize), so a
constant panel means a constant input: the tool says so for each one.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

import fdkd_plugin  # noqa: F401  (compat fixes before any host import)
from fdkd_plugin.config_names import config_arg
from fdkd_plugin.registry import DATASETS
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

# (title, kind, array): kind is 'spectrogram', 'image', 'map', 'mask' or
# 'text' (array is then a str)
Panel = Tuple[str, str, object]
AUDIO_NAMES = ('audio', 'spec', 'spectrogram', 'sound')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', type=config_arg, help='a training config')
    p.add_argument(
        '--output-dir',
        help='where the PNGs go (default: work_dirs/browse/<config name>)')
    p.add_argument(
        '--phase',
        default='train',
        choices=['train', 'val', 'test'],
        help='which data loader\'s data set and pipeline')
    p.add_argument(
        '--show-number',
        '-n',
        type=int,
        default=8,
        help='how many samples (the first N, or N drawn with --seed)')
    p.add_argument(
        '--seed', type=int, help='draw the samples at random with this seed')
    p.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    return p.parse_args(argv)


def _scaled(x: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; a constant array becomes 0."""
    x = x.astype(np.float32)
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def input_panels(name: str, value) -> List[Panel]:
    """The panels of one packed input (a tensor of the sample)."""
    if isinstance(value, dict):  # e.g. tokenizer outputs
        value = value.get('input_ids', next(iter(value.values())))
    x = value.detach().cpu() if torch.is_tensor(value) else torch.as_tensor(
        np.asarray(value))
    if not x.is_floating_point() and x.dim() <= 2:
        ids = x.flatten().tolist()
        return [(f'{name} ({len(ids)} tokens)', 'text',
                 ' '.join(str(i) for i in ids))]
    a = x.float().numpy()
    if a.ndim == 4:  # (k, C, H, W): the frames of a clip
        return [
            p for i, frame in enumerate(a)
            for p in input_panels(f'{name} frame {i}', torch.from_numpy(frame))
        ]
    if a.ndim == 3 and a.shape[0] == 3:
        return [(name, 'image', _scaled(a.transpose(1, 2, 0)))]
    if a.ndim == 3:
        a = a[0]  # first channel of a 1- or n-channel map
    if a.ndim != 2:
        raise ValueError(f'input {name!r} has shape {tuple(x.shape)}: expected '
                         '(C, H, W), (k, C, H, W), (H, W) or token ids')
    kind = 'spectrogram' if any(n in name.lower()
                                for n in AUDIO_NAMES) else 'map'
    return [(name, kind, a)]


def sample_panels(sample: dict, classes: Optional[Sequence[str]]) -> Tuple[
        List[Panel], str]:
    """All panels of a packed sample and its title (index and label)."""
    panels = []
    for name, value in sample['inputs'].items():
        panels += input_panels(name, value)
    ds = sample.get('data_samples')
    title = []
    meta = getattr(ds, 'metainfo', {}) if ds is not None else {}
    for key in ('clip_id', 'img_path', 'sample_idx'):
        if key in meta:
            title.append(f'{key} {osp.basename(str(meta[key]))}')
            break
    if ds is not None and 'gt_label' in ds:
        label = int(ds.gt_label.flatten()[0])
        name = classes[label] if classes and label < len(classes) else ''
        title.append(f'label {label}' + (f' ({name})' if name else ''))
    if ds is not None and 'gt_sem_seg' in ds:
        panels.append(('segmentation mask', 'mask',
                       ds.gt_sem_seg.data.squeeze(0).cpu().numpy()))
    return panels, ', '.join(title)


def draw(panels: List[Panel], title: str, out_file: str,
         classes: Optional[Sequence[str]] = None) -> None:
    """One row of panels to ``out_file`` (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    for ax, (name, kind, arr) in zip(axes[0], panels):
        ax.set_title(name, fontsize=9)
        if kind == 'text':
            ax.text(0.02, 0.98, arr[:600], va='top', ha='left', fontsize=7,
                    wrap=True, family='monospace', transform=ax.transAxes)
            ax.axis('off')
            continue
        if kind == 'image':
            ax.imshow(arr, interpolation='nearest')
        elif kind == 'spectrogram':
            im = ax.imshow(arr, origin='lower', aspect='auto', cmap='magma')
            ax.set_xlabel('frame')
            ax.set_ylabel('frequency bin')
            fig.colorbar(im, ax=ax, fraction=0.046)
        elif kind == 'mask':
            ignore = arr >= 255
            shown = np.ma.masked_where(ignore, arr)
            ax.imshow(shown, cmap='tab20', interpolation='nearest',
                      vmin=0, vmax=max(19, int(arr[~ignore].max(initial=0))))
            present = np.unique(arr[~ignore])
            names = [classes[i] if classes and i < len(classes) else str(i)
                     for i in present[:6]]
            ax.set_xlabel(', '.join(names) +
                          (' ...' if len(present) > 6 else ''), fontsize=7)
        else:
            im = ax.imshow(arr, cmap='viridis', interpolation='nearest')
            fig.colorbar(im, ax=ax, fraction=0.046)
        if kind != 'spectrogram':
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'{args.config} does not exist')
    if args.show_number < 1:
        raise SystemExit(f'--show-number {args.show_number}: must be >= 1')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'fdkd'))
    loader = cfg.get(f'{args.phase}_dataloader')
    if not loader:
        raise SystemExit(f'{args.config} has no {args.phase}_dataloader')
    dataset = DATASETS.build(loader['dataset'])
    n = min(args.show_number, len(dataset))
    if args.seed is None:
        indices = list(range(n))
    else:
        indices = np.random.default_rng(args.seed).choice(
            len(dataset), n, replace=False).tolist()
    out_dir = args.output_dir or osp.join(
        'work_dirs', 'browse',
        osp.splitext(osp.basename(args.config))[0])
    os.makedirs(out_dir, exist_ok=True)
    classes = dataset.metainfo.get('classes')
    written = []
    print(f'{n} {args.phase} samples of {args.config} -> {out_dir}')
    bar = ProgressBar(n)
    for index in indices:
        panels, title = sample_panels(dataset[index], classes)
        flat = [name for name, kind, a in panels
                if kind != 'text' and float(np.ptp(a)) == 0.0]
        for name in flat:
            print(f'\nsample {index}: {name} is constant '
                  '(drawn as one colour)')
        out_file = osp.join(out_dir, f'{index:06d}.png')
        draw(panels, f'{args.phase} sample {index}: {title}', out_file,
             classes)
        written.append(out_file)
        bar.update()
    print(f'\n{len(written)} PNGs in {out_dir}')
    return written


if __name__ == '__main__':
    main()
