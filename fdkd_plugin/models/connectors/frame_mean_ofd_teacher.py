"""OFD's teacher connector for a per-frame teacher record: frame mean, then
the margin."""
from typing import Dict, Optional

import torch
from mmrazor.models.architectures.connectors import OFDTeacherConnector

from fdkd_plugin.registry import MODELS
from .frame_mean import frame_mean

__all__ = ['FrameMeanOFDTeacherConnector']


@MODELS.register_module()
class FrameMeanOFDTeacherConnector(OFDTeacherConnector):
    """``max(mean_frames(t), m)``: ``mmrazor.OFDTeacherConnector`` on the
    clip mean of a per-frame teacher record.

    A teacher wrapped by ``fdkd.MultiFrameBackbone`` records
    ``(N*k, C, H, W)`` at an inner BatchNorm (OFD's feature). The frames are
    averaged first (as ``fdkd.FrameMean``), then clamped from below at the
    per-channel margin ``m`` (shape ``(1, C, 1, 1)``)::

        out = max(1/k * sum_j t[n*k + j], m)        # (N, C, H, W)

    Mean first, not ``1/k * sum_j max(t_j, m)``: the clamp is not linear, and
    OFD's margin acts on the feature the student is compared with, one per
    clip. The margin itself is the BN's and does not depend on the order.

    It is an ``OFDTeacherConnector``, not a ``[FrameMean,
    OFDTeacherConnector]`` list, because ``mmrazor.OFDDistiller
    .init_ofd_connectors`` sets the margin only on a connector of that type
    (and asserts it).

    Args:
        num_frames (int): Frames per clip ``k``.
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
        """Args: feature (Tensor): ``(N*k, C, H, W)``. Returns
        ``(N, C, H, W)``, detached (as OFD's teacher connector)."""
        return super().forward_train(frame_mean(feature, self.num_frames))

    def extra_repr(self) -> str:
        return f'num_frames={self.num_frames}'
