"""The functional core of ``fdkd.MultiModalDataPreprocessor``: per-modality
normalization statistics, the normalization itself, padding targets, and
the paired pre-processor a distiller composes from its two networks'."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

__all__ = [
    'check_norm_cfg', 'normalize', 'pad_targets', 'paired_preprocessor_cfg'
]

Size = Tuple[int, int]
PREPROCESSOR_TYPES = ('fdkd.MultiModalDataPreprocessor',
                      'MultiModalDataPreprocessor')
#: the settings a paired pre-processor takes over from its networks'
SHARED_KEYS = ('pad_to', 'pad_val', 'seg_pad_val', 'non_blocking')


def check_norm_cfg(norm_cfg: Optional[Dict[str, dict]],
                   key: str = 'data_preprocessor.norm_cfg') -> Dict[str, dict]:
    """Validate ``{modality: dict(mean=[...], std=[...])}``.

    Returns:
        dict: ``{modality: dict(mean=list[float], std=list[float])}``.

    Raises:
        ValueError: Not a dict of dicts with ``mean`` and ``std`` of equal
            length (or one of them a single value), or a ``std <= 0``;
            naming the entry.
    """
    if norm_cfg is None:
        return {}
    if not isinstance(norm_cfg, dict):
        raise ValueError(f'{key}={norm_cfg!r} must be a dict '
                         '{modality: dict(mean=..., std=...)}')
    out = {}
    for name, cfg in norm_cfg.items():
        if not isinstance(cfg, dict) or set(cfg) != {'mean', 'std'}:
            raise ValueError(f'{key}[{name!r}]={cfg!r} must be '
                             'dict(mean=[...], std=[...])')
        mean, std = ([
            float(v) for v in torch.tensor(
                cfg[k], dtype=torch.float64).reshape(-1)
        ] for k in ('mean', 'std'))
        if len(mean) != len(std) and 1 not in (len(mean), len(std)):
            raise ValueError(f'{key}[{name!r}] has {len(mean)} mean and '
                             f'{len(std)} std values')
        if min(std) <= 0:
            raise ValueError(f'{key}[{name!r}] std={std} must be > 0')
        out[name] = dict(mean=mean, std=std)
    return out


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
              key: str) -> torch.Tensor:
    """``(x - mean) / std`` in float32 over the channel axis ``-3``.

    Args:
        x (Tensor): ``(..., C, H, W)``, any dtype (uint8 frames).
        mean (Tensor): ``(C, )`` or ``(1, )``.
        std (Tensor): ``(C, )`` or ``(1, )``.
        key (str): Named in the error.

    Returns:
        Tensor: float32, the shape of ``x``. The same values as numpy's
        ``(img.astype(float32) - mean) / std`` on ``(H, W, C)``.
    """
    if x.dim() < 3:
        raise ValueError(f'{key}: an input of shape {tuple(x.shape)} has no '
                         'channel axis (..., C, H, W)')
    channels = x.shape[-3]
    for stat in (mean, std):
        if stat.numel() not in (1, channels):
            raise ValueError(f'{key} has {stat.numel()} values for inputs '
                             f'with {channels} channels {tuple(x.shape)}')
    shape = (-1, 1, 1)
    mean = mean.to(x.device).view(shape)
    std = std.to(x.device).view(shape)
    return (x.float() - mean) / std


def pad_targets(pad_to: Union[str, Sequence[int]], sizes: Sequence[Size],
                samples: Optional[Sequence]) -> List[Size]:
    """The ``(H, W)`` each sample is padded to: ``pad_to`` (or the sample's
    ``ori_shape`` with ``'ori_shape'``), never below its own size."""
    out = []
    for i, (h, w) in enumerate(sizes):
        if pad_to == 'ori_shape':
            meta = samples[i].metainfo if samples is not None else {}
            if 'ori_shape' not in meta:
                raise KeyError("data_preprocessor.pad_to='ori_shape' needs "
                               "each sample's ori_shape metainfo; the "
                               'packer keeps it (PackMultiModalInputs '
                               "meta_keys), or set pad_to=(H, W)")
            th, tw = meta['ori_shape'][:2]
        else:
            th, tw = pad_to
        out.append((max(int(th), h), max(int(tw), w)))
    return out


def _preprocessor_of(network) -> Optional[dict]:
    """A network's pre-processor settings: from its config dict, or from
    the built module's ``data_preprocessor``."""
    if isinstance(network, dict):
        cfg = network.get('data_preprocessor')
        return dict(cfg) if isinstance(cfg, dict) else None
    module = getattr(network, 'data_preprocessor', None)
    if module is None or not hasattr(module, 'norm_cfg'):
        return None
    return dict(norm_cfg=module.norm_cfg,
                **{k: getattr(module, k) for k in SHARED_KEYS
                   if hasattr(module, k)})


def paired_preprocessor_cfg(given: Optional[dict], *networks) -> dict:
    """The pre-processor of a model that feeds several networks.

    Starts from ``given`` (None: ``fdkd.MultiModalDataPreprocessor`` keeping
    every modality) and fills in what it does not set from the networks'
    own pre-processors, in order: each modality's ``norm_cfg`` entry, and
    ``pad_to`` / ``pad_val`` / ``seg_pad_val`` / ``non_blocking``. An entry
    ``given`` sets wins; ``modality`` and ``batch_augments`` are never taken
    over (the paired batch keeps all modalities). A ``given`` of another
    type is returned as it is.

    Args:
        given (dict, optional): The model's ``data_preprocessor`` config.
        *networks (dict | nn.Module): The networks (configs or built).

    Returns:
        dict: The pre-processor config.

    Raises:
        ValueError: Two networks normalize one modality differently.
    """
    cfg = dict(type=PREPROCESSOR_TYPES[0]) if given is None else dict(given)
    kind = cfg.get('type')
    if not (kind in PREPROCESSOR_TYPES or getattr(
            kind, '__name__', None) == 'MultiModalDataPreprocessor'):
        return cfg
    norm: Dict[str, dict] = {}
    for net in networks:
        own = _preprocessor_of(net)
        if not own:
            continue
        for name, stats in check_norm_cfg(own.get('norm_cfg')).items():
            if name in norm and norm[name] != stats:
                raise ValueError(
                    f'the networks normalize modality {name!r} differently '
                    f'({norm[name]} and {stats}); set data_preprocessor.'
                    f'norm_cfg[{name!r}] of the distiller to choose')
            norm[name] = stats
        for key in SHARED_KEYS:
            if key in own and key not in cfg:
                cfg[key] = own[key]
    norm.update(check_norm_cfg(cfg.get('norm_cfg')))
    if norm:
        cfg['norm_cfg'] = norm
    return cfg
