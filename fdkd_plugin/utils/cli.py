"""What ``tools/train.py`` and ``tools/test.py`` share: the MMPretrain flags,
merged into an MMEngine config, and the CPU-distributed set-up."""
import argparse
import os
import os.path as osp
from copy import deepcopy
from typing import List, Optional

import torch
from mmengine.config import Config, ConfigDict, DictAction

from fdkd_plugin import compat
from fdkd_plugin.config_names import config_arg
from fdkd_plugin.utils import checkpoint

__all__ = [
    'add_common_args', 'train_parser', 'test_parser', 'merge_common_args',
    'merge_train_args', 'merge_test_args', 'setup_distributed',
    'add_tensorboard'
]


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Flags both tools share, spelled as in MMPretrain's tools."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs, e.g. '
        'model.distiller.lambda_low=0.5 train_cfg.max_epochs=3')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the data loaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers in the data loaders')
    parser.add_argument(
        checkpoint.UNSAFE_LOAD_FLAG,
        action='store_true',
        help='unpickle checkpoints fully (sets unsafe_load=True in the '
        'config). By default only tensors, containers and the MMEngine '
        'types its checkpoints hold are unpickled, so a crafted checkpoint '
        'cannot run code; use this only for checkpoints you trust')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also write every logged scalar (loss, loss_low, loss_high, '
        'lr, val metrics) as TensorBoard events under '
        '<work_dir>/<timestamp>/vis_data (needs tensorboard: '
        "pip install 'fdkd[optional]')")
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Train a model (unimodal '
                                     'or cross-modal distillation)')
    parser.add_argument(
        'config', type=config_arg, help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a value from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual over the base batch size')
    add_common_args(parser)
    return parser


def test_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Test a model')
    parser.add_argument(
        'config', type=config_arg, help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the predictions to this pickle file')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        default='metrics',
        help='with --out, dump the metrics or the raw predictions')
    add_common_args(parser)
    return parser


def parse(parser: argparse.ArgumentParser,
          argv: Optional[List[str]] = None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_common_args(cfg: Config, args: argparse.Namespace) -> Config:
    """work dir, launcher, data-loader flags, ``--cfg-options`` and
    ``--unsafe-load``; the process's checkpoint trust is set from the
    merged config's ``unsafe_load`` (see :mod:`fdkd_plugin.utils.checkpoint`).
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    defaults = ConfigDict(
        pin_memory=torch.cuda.is_available(),
        persistent_workers=True,
        collate_fn=dict(type='default_collate'))
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field, None) is None:
            continue
        loader = deepcopy(defaults)
        loader.update(cfg[field])
        if loader.get('num_workers', 0) == 0:
            loader.persistent_workers = False
        if args.no_pin_memory:
            loader.pin_memory = False
        if args.no_persistent_workers:
            loader.persistent_workers = False
        cfg[field] = loader

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if getattr(args, 'tensorboard', False):
        add_tensorboard(cfg)
    if getattr(args, 'unsafe_load', False):
        cfg[checkpoint.UNSAFE_LOAD_KEY] = True
    checkpoint.honour_config(cfg)
    return cfg


def add_tensorboard(cfg: Config) -> None:
    """Add MMEngine's ``TensorboardVisBackend`` to the config's visualizer
    (once), after checking that TensorBoard can be imported, so a missing
    package is one clear error before any data is loaded."""
    import importlib.util
    if importlib.util.find_spec('tensorboard') is None:
        raise ImportError(
            '--tensorboard needs the tensorboard package, which is not '
            "installed: pip install 'fdkd[optional]' (or pip install "
            'tensorboard, the tested version is in '
            'requirements/constraints.txt)')
    visualizer = cfg.setdefault('visualizer', ConfigDict(type='Visualizer'))
    backends = visualizer.setdefault('vis_backends', [])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(ConfigDict(type='TensorboardVisBackend'))


def merge_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """MMPretrain's train flags (``--resume``, ``--amp`` ...) into cfg."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    # never resume from a half-written checkpoint: fall back to the previous
    from fdkd_plugin.engine.resume import resolve_resume
    return resolve_resume(merge_common_args(cfg, args))


def merge_test_args(cfg: Config, args: argparse.Namespace) -> Config:
    cfg.load_from = args.checkpoint
    return merge_common_args(cfg, args)


def setup_distributed(cfg: Config) -> Config:
    """Make ``--launcher pytorch`` work on a CPU-only machine.

    Without CUDA, the gloo process group is initialised here (compat fix 3)
    and DDP is wrapped with ``fdkd.CPUDistributedDataParallel`` unless the
    config names a wrapper. SyncBN needs CUDA: a config's ``sync_bn`` is
    dropped with a warning.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return cfg
    compat.init_cpu_distributed('pytorch', backend='gloo')
    cfg.setdefault('env_cfg', ConfigDict())
    cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    if cfg.get('model_wrapper_cfg', None) is None:
        cfg.model_wrapper_cfg = dict(
            type='fdkd.CPUDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if cfg.get('sync_bn', None):
        from mmengine.logging import print_log
        print_log('sync_bn needs CUDA; training with per-process BN on CPU',
                  logger='current', level=30)
        cfg.sync_bn = None
    return cfg
