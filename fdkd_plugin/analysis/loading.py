"""Build trained networks and a paired data loader from configs.

- :func:`load_networks`: a unimodal config + checkpoint gives one network; a
  ``fdkd.CrossModalDistill`` config + checkpoint gives two, its teacher and
  its student (both are in a distillation checkpoint).
- :func:`build_paired_loader`: the loader of one split that packs every
  modality the networks need, in a fixed order.
"""
import copy
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from torch import nn

from fdkd_plugin.config_names import resolve
from fdkd_plugin.models.algorithms import CrossModalDistill
from fdkd_plugin.registry import MODELS
from fdkd_plugin.utils.checkpoint import (UNSAFE_LOAD_KEY, unsafe_load,
                                          unsafe_load_enabled)
from .features import network_modality

__all__ = [
    'Network', 'load_config', 'load_networks', 'packed_modalities',
    'build_paired_loader'
]


class Network(NamedTuple):
    """A network to analyse.

    Attributes:
        name (str): ``'teacher'`` / ``'student'`` for the parts of a
            distillation model, else the config's file name.
        model (nn.Module): The network, in eval mode, on its device.
        modality (str | None): The input it reads from a paired batch.
    """
    name: str
    model: nn.Module
    modality: Optional[str]

    @property
    def label(self) -> str:
        """``'name (modality)'`` for plots."""
        return f'{self.name} ({self.modality})' if self.modality \
            else self.name


def load_config(config: Union[str, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """A config file with ``--cfg-options`` merged, its scope initialised."""
    cfg = Config.fromfile(resolve(config)) if isinstance(config, str) \
        else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'fdkd'))
    return cfg


def load_networks(
        config: Union[str, Config],
        checkpoint: Optional[str],
        cfg_options: Optional[dict] = None,
        device: Union[str,
                      torch.device] = 'cpu') -> Tuple[List[Network], Config]:
    """Build a config's model, load its checkpoint, return its networks.

    For a ``fdkd.CrossModalDistill`` model the config's ``teacher_ckpt`` is
    ignored when ``checkpoint`` is given (the distillation checkpoint holds
    both networks) and two networks come back, ``teacher`` then
    ``student``, each with its modality. A unimodal model comes back as one
    network named after the config file, with the modality its
    ``fdkd.MultiModalDataPreprocessor`` selects.

    Args:
        config (str | Config): Config file or object.
        checkpoint (str, optional): Checkpoint to load (strictly). None
            keeps the initial weights. Checkpoints (this one and a
            ``teacher_ckpt``) are unpickled fully only if the config sets
            ``unsafe_load=True`` (see :mod:`fdkd_plugin.utils.checkpoint`).
        cfg_options (dict, optional): Overrides merged into the config.
        device (str | torch.device): Where to put the model. Defaults to
            ``'cpu'``.

    Returns:
        tuple[list[Network], Config]: The networks and the merged config.
    """
    cfg = load_config(config, cfg_options)
    model_cfg = copy.deepcopy(cfg.model)
    if checkpoint is not None and 'teacher_ckpt' in model_cfg:
        model_cfg.teacher_ckpt = None
    # checkpoints load restricted unless the config trusts them
    with unsafe_load(cfg.get(UNSAFE_LOAD_KEY, unsafe_load_enabled())):
        model = MODELS.build(model_cfg)
        if checkpoint is not None:
            if not osp.isfile(checkpoint):
                raise FileNotFoundError(f'checkpoint {checkpoint} not found')
            load_checkpoint(
                model, checkpoint, map_location='cpu', strict=True)
    model.to(device).eval()
    if isinstance(model, CrossModalDistill):
        return [
            Network('teacher', model.teacher, model.teacher_modality),
            Network('student', model.architecture, model.student_modality)
        ], cfg
    name = osp.splitext(osp.basename(cfg.filename or 'model'))[0]
    return [Network(name, model, network_modality(model))], cfg


def packed_modalities(pipeline: Sequence[dict]) -> Tuple[str, ...]:
    """The modalities a pipeline's ``fdkd.PackMultiModalInputs`` packs
    (``()`` if it has none)."""
    for transform in reversed(list(pipeline or [])):
        if str(transform.get('type', '')).endswith('PackMultiModalInputs'):
            return tuple(transform.get('modalities', ('audio', 'visual')))
    return ()


def build_paired_loader(
    cfg: Config,
    modalities: Sequence[str],
    split: str = 'test',
    batch_size: Optional[int] = None,
    num_workers: Optional[int] = None
) -> Tuple[torch.utils.data.DataLoader, str]:
    """The unshuffled ``{split}_dataloader`` of ``cfg`` packing ``modalities``.

    The split's own pipeline is used when it packs every modality in
    ``modalities`` (a distillation config's does). A unimodal config's
    pipeline packs one; then the config's top-level ``test_pipeline`` (the
    paired, deterministic pipeline every ``configs/_base_/datasets/*.py``
    defines) is used on the split's data set, with the data set's
    ``modalities`` set to what it packs.

    Args:
        cfg (Config): The data config.
        modalities (Sequence[str]): The modalities the networks read.
        split (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'test'``.
        batch_size (int, optional): Override the loader's batch size.
        num_workers (int, optional): Override the loader's workers.

    Returns:
        tuple[DataLoader, str]: The loader and a line saying which pipeline
        it uses.

    Raises:
        ValueError: if neither pipeline packs all ``modalities``.
    """
    key = f'{split}_dataloader'
    if cfg.get(key, None) is None:
        raise ValueError(f'config {cfg.filename} has no {key}')
    loader = copy.deepcopy(cfg[key])
    need = [m for m in modalities if m is not None]
    packed = packed_modalities(loader.dataset.get('pipeline'))
    note = f'{key} of {cfg.filename}, its own pipeline (packs {packed})'
    if not set(need) <= set(packed):
        paired = packed_modalities(cfg.get('test_pipeline', None))
        if not set(need) <= set(paired):
            raise ValueError(
                f'the {split} pipeline of {cfg.filename} packs {packed}, and '
                f'it defines no test_pipeline packing {tuple(need)}: pass a '
                'data config whose pipeline packs both, e.g. a distillation '
                'config of the pair')
        loader.dataset.pipeline = copy.deepcopy(cfg.test_pipeline)
        loader.dataset.modalities = paired
        note = (f'{key} data of {cfg.filename} with its paired test_pipeline '
                f'(packs {paired})')
    loader.sampler = dict(type='DefaultSampler', shuffle=False)
    if batch_size is not None:
        loader.batch_size = batch_size
    if num_workers is not None:
        loader.num_workers = num_workers
    if loader.get('num_workers', 0) == 0:
        loader.persistent_workers = False
    loader.setdefault('collate_fn', dict(type='default_collate'))
    return Runner.build_dataloader(loader), note
