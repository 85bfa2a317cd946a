"""Run an image backbone on every frame of a clip and average over frames."""
from typing import Dict, Optional, Tuple

import torch
from mmengine.model import BaseModule

from fdkd_plugin.registry import MODELS

__all__ = ['MultiFrameBackbone']


@MODELS.register_module()
class MultiFrameBackbone(BaseModule):
    """Fold ``k`` frames into the batch, run ``backbone``, average over k.

    ``fdkd.LoadFrames(num_frames=k)`` yields ``(k, 3, H, W)`` per clip
    (VGGSound: 3 frames). The backbone sees ``(N*k, 3, H, W)``; each of its
    output maps ``(N*k, C, h, w)`` is averaged over the frames of a clip to
    ``(N, C, h, w)``, the late temporal pooling of the field's visual
    encoders. 4-D input (one frame) passes straight through.

    Args:
        backbone (dict): Config of the image backbone, e.g.
            ``dict(type='mmpretrain.ResNet', depth=18)``.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self, backbone: Dict, init_cfg: Optional[Dict] = None):
        super().__init__(init_cfg)
        self.backbone = MODELS.build(backbone)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Args: x (Tensor): ``(N, k, 3, H, W)`` or ``(N, 3, H, W)``."""
        if x.dim() == 4:
            return self.backbone(x)
        if x.dim() != 5:
            raise ValueError(f'MultiFrameBackbone expects (N, k, C, H, W) or '
                             f'(N, C, H, W) input, got {tuple(x.shape)}')
        n, k = x.shape[:2]
        outs = self.backbone(x.flatten(0, 1))  # (N*k, C, H, W) in
        return tuple(
            o.view(n, k, *o.shape[1:]).mean(1)  # (N, C', h, w)
            for o in outs)
