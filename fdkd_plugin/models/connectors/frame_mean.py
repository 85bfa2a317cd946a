"""Average the per-frame rows of a record over the frames of each clip."""
from typing import Dict, Optional

import torch
from mmrazor.models.architectures.connectors.base_connector import \
    BaseConnector

from fdkd_plugin.registry import MODELS

__all__ = ['FrameMean', 'frame_mean']


def frame_mean(feature: torch.Tensor, num_frames: int) -> torch.Tensor:
    """``(N*k, ...) -> (N, ...)``: the mean over the ``k`` consecutive rows
    of each clip.

    Row ``n*k + j`` is frame ``j`` of clip ``n``, the order in which
    ``fdkd.MultiFrameBackbone`` folds ``(N, k, 3, H, W)`` into the batch
    (``flatten(0, 1)``).

    Args:
        feature (Tensor): ``(N*k, ...)``, any trailing shape: ``(N*k, C)``
            pooled features or ``(N*k, C, H, W)`` maps.
        num_frames (int): ``k``.

    Returns:
        Tensor: ``(N, ...)``.

    Raises:
        ValueError: if the row count is not a multiple of ``k``.
    """
    if feature.dim() < 1 or feature.shape[0] % num_frames:
        raise ValueError(
            f'a record of shape {tuple(feature.shape)} does not hold '
            f'num_frames={num_frames} rows per clip: its first dimension '
            f'must be a multiple of {num_frames}')
    n = feature.shape[0] // num_frames
    return feature.view(n, num_frames, *feature.shape[1:]).mean(1)


@MODELS.register_module()
class FrameMean(BaseConnector):
    """Average a per-frame record over the frames of each clip.

    ``fdkd.MultiFrameBackbone`` runs an image backbone on the ``k`` frames
    of a clip folded into the batch, ``(N*k, 3, H, W)``, and averages only
    its outputs over the frames. A recorder on a layer *inside* that
    backbone (``backbone.backbone.layer4.1.relu``, ``...layer3``, ...)
    therefore records ``(N*k, ...)`` while the other modality's network
    records ``(N, ...)``. This connector restores one row per clip::

        out[n] = 1/k * sum_j feature[n*k + j]      # (N*k, ...) -> (N, ...)

    the same late temporal average as the backbone's own outputs.

    The mean over frames is linear, so it commutes with average pooling:
    pooling the frame-mean of a (pre-ReLU) map equals the frame-mean of the
    pooled per-frame vectors, and this connector may come before or after
    a pooling connector. It does not commute with non-linear steps (a
    ReLU, a clamp, a BatchNorm in training mode): put it first there, so
    they see one feature per clip.

    Args:
        num_frames (int): Frames per clip ``k``, the ``num_frames`` of
            ``fdkd.LoadFrames``.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 num_frames: int,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg)
        if isinstance(num_frames, bool) or not isinstance(
                num_frames, int) or num_frames < 1:
            raise ValueError(
                f'num_frames={num_frames!r} must be a positive int')
        self.num_frames = num_frames

    def forward_train(self, feature: torch.Tensor) -> torch.Tensor:
        """Args: feature (Tensor): ``(N*k, ...)``. Returns ``(N, ...)``."""
        return frame_mean(feature, self.num_frames)

    def extra_repr(self) -> str:
        return f'num_frames={self.num_frames}'
