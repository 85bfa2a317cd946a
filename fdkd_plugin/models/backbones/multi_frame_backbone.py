"""Frames of a clip folded into the batch: the one place that knows about
``(N, k, C, H, W)`` inputs.

``fdkd.LoadFrames(num_frames=k)`` yields ``(k, 3, H, W)`` per clip
(VGGSound: 3 frames). An image backbone built through
``fdkd.MultiFrameBackbone`` runs them as ``(N*k, 3, H, W)`` and averages
each of its outputs over the frames of a clip (the late temporal pooling of
the field's visual encoders). The backbone *is* the image backbone (a
subclass of it with a folding ``forward``), so its layers keep their paths
(``backbone.layer4.1.relu``) and its state dict is that of a one-frame
network.

A recorder on one of its inner layers sees the folded batch and records
``(N*k, ...)``; :func:`average_frame_records` (called by
``fdkd.CrossModalDistill`` right after that side's forward, with ``k`` read
from the input) turns those records into one row per clip, so distillers,
connectors and the teacher cache only ever see ``(N, ...)``. The mean comes
before any connector: OFD's ``max(t, margin)`` acts on the clip mean, one
feature per clip, as the other modality's.
"""
from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn

from fdkd_plugin.registry import MODELS

__all__ = [
    'FrameFolding', 'MultiFrameBackbone', 'frame_mean', 'frames_per_clip',
    'average_frame_records'
]


def frame_mean(feature: torch.Tensor, num_frames: int) -> torch.Tensor:
    """``(N*k, ...) -> (N, ...)``: the mean of each clip's ``k`` consecutive
    rows, ``out[n] = 1/k * sum_j feature[n*k + j]``."""
    if feature.dim() < 1 or feature.shape[0] % num_frames:
        raise ValueError(
            f'a per-frame record of shape {tuple(feature.shape)} does not '
            f'hold num_frames={num_frames} rows per clip: its first '
            f'dimension must be a multiple of {num_frames}')
    return feature.unflatten(0, (-1, num_frames)).mean(1)


class FrameFolding:
    """Mixin for an image backbone: a 5-D input ``(N, k, C, H, W)`` runs as
    ``(N*k, C, H, W)`` and every output map is averaged over the ``k``
    frames of its clip; a 4-D input (one frame) passes straight through."""

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if x.dim() == 4:
            return super().forward(x)
        if x.dim() != 5:
            raise ValueError(f'{type(self).__name__} expects (N, k, C, H, W) '
                             f'or (N, C, H, W) input, got {tuple(x.shape)}')
        k = x.shape[1]
        outs = super().forward(x.flatten(0, 1))
        if isinstance(outs, torch.Tensor):
            return frame_mean(outs, k)
        return tuple(frame_mean(o, k) for o in outs)


_FOLDED: Dict[type, type] = {}


def _folded_class(cls: type) -> type:
    """``MultiFrame<cls>``: ``cls`` with :class:`FrameFolding`'s forward
    (one class per backbone class)."""
    if issubclass(cls, FrameFolding):
        return cls
    if cls not in _FOLDED:
        _FOLDED[cls] = type(f'MultiFrame{cls.__name__}', (FrameFolding, cls),
                            dict(__module__=__name__))
    return _FOLDED[cls]


@MODELS.register_module()
def MultiFrameBackbone(backbone: Dict,
                       init_cfg: Optional[Dict] = None) -> nn.Module:
    """Build ``backbone`` with frames folded into the batch.

    Returns an instance of ``MultiFrame<Backbone>``, a subclass of the
    backbone's own class (:class:`FrameFolding` first): same parameters,
    module paths and checkpoints as the one-frame backbone.

    Args:
        backbone (dict): Config of the image backbone, e.g.
            ``dict(type='mmpretrain.ResNet', depth=18)``.
        init_cfg (dict, optional): Initialization config; overrides the
            backbone's own.
    """
    if not isinstance(backbone, dict) or 'type' not in backbone:
        raise ValueError('fdkd.MultiFrameBackbone needs backbone=dict('
                         f"type=..., ...), got {backbone!r}")
    args = dict(backbone)
    cls = MODELS.get(args.pop('type'))
    if cls is None:
        raise KeyError(f'backbone type {backbone["type"]!r} is not registered '
                       '(mmpretrain.ResNet, ...)')
    if init_cfg is not None:
        args['init_cfg'] = init_cfg
    return _folded_class(cls)(**args)


def frames_per_clip(network: nn.Module, inputs: Any) -> int:
    """``k`` of a batch that ``network`` folds (a :class:`FrameFolding`
    module inside it and a 5-D tensor input), else 1."""
    if not (isinstance(inputs, torch.Tensor) and inputs.dim() == 5):
        return 1
    if not any(isinstance(m, FrameFolding) for m in network.modules()):
        return 1
    return inputs.shape[1]


def _clip_mean(obj: Any, n: int, k: int) -> Any:
    if isinstance(obj, torch.Tensor):
        return frame_mean(obj, k) if obj.dim() >= 1 and \
            obj.shape[0] == n * k else obj
    if isinstance(obj, (tuple, list)):
        items = [_clip_mean(v, n, k) for v in obj]
        return type(obj)(*items) if hasattr(obj, '_fields') else \
            type(obj)(items)
    if isinstance(obj, dict):
        return type(obj)((key, _clip_mean(v, n, k)) for key, v in obj.items())
    return obj


def average_frame_records(recorders: Any, n: int, k: int) -> None:
    """Replace, in every recorder of an MMRazor ``RecorderManager``, each
    recorded tensor with ``n * k`` rows by its clip mean (``n`` rows);
    records of ``n`` rows (after the backbone's own average) stay."""
    if k == 1:
        return
    for recorder in recorders.recorders.values():
        buffer = recorder.data_buffer
        buffer[:] = [_clip_mean(record, n, k) for record in buffer]
