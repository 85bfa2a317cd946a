"""Attention-based Feature Distillation (AFD), Ji et al., AAAI 2021."""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fdkd_plugin.registry import MODELS
from .utils import check_loss_weight, upcast

__all__ = ['AFDLoss', 'spatial_attention']

#: the most feature maps per side; forward takes ``student_feat_1`` ...
#: ``student_feat_8`` and ``teacher_feat_1`` ... ``teacher_feat_8`` (the
#: official code distills every block output: 8 for ResNet-18)
MAX_LAYERS = 8


def spatial_attention(feat: Tensor, size: Tuple[int, int]) -> Tensor:
    """The value vector of AFD for one feature map.

        v = normalize( pool_{size}( mean_c f^2 ) ),   ||v||_2 = 1

    ``f^2`` averaged over channels (a channel-pooled spatial map), average
    pooled to ``size`` (``adaptive_avg_pool2d``: larger maps are averaged,
    smaller ones replicated, so maps of any resolution and any modality are
    comparable) and flattened, then L2-normalized.

    Args:
        feat (Tensor): ``(N, C, H, W)``.
        size (tuple[int, int]): the common grid ``(h, w)``.

    Returns:
        Tensor: ``(N, h * w)`` unit vectors.
    """
    amap = feat.pow(2).mean(1, keepdim=True)  # (N, 1, H, W)
    amap = F.adaptive_avg_pool2d(amap, size).flatten(1)  # (N, h * w)
    return F.normalize(amap, dim=1)


class _LinearBN(nn.Sequential):
    """Linear -> BatchNorm1d (-> ReLU): AFD's projection of pooled features."""

    def __init__(self, in_dim: int, out_dim: int, relu: bool) -> None:
        layers: List[nn.Module] = [
            nn.Linear(in_dim, out_dim),
            nn.BatchNorm1d(out_dim)
        ]
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


def _check_channels(name: str, channels: Sequence[int]) -> List[int]:
    if (isinstance(channels, (str, bytes))
            or not isinstance(channels, Sequence) or not channels):
        raise ValueError(f'{name}={channels!r} must be a non-empty list of '
                         'channel counts')
    if len(channels) > MAX_LAYERS:
        raise ValueError(f'{name}={list(channels)} has {len(channels)} '
                         f'layers; at most {MAX_LAYERS} are supported')
    for c in channels:
        if not isinstance(c, int) or isinstance(c, bool) or c < 1:
            raise ValueError(
                f'{name}={list(channels)}: channel count {c!r} must be an '
                'int >= 1')
    return list(channels)


@MODELS.register_module()
class AFDLoss(nn.Module):
    """Attention-based feature distillation (Ji, Heo, Park, "Show, Attend
    and Distill: Knowledge Distillation via Attention-based Feature
    Matching", AAAI 2021; clovaai/attention-feature-distillation).

    Every teacher layer ``t`` attends over every student layer ``s``:

        q_t   = BN(W^q_t gap(f^T_t))                       query, (N, d)
        k_s   = ReLU(BN(W^k_s gap(f^S_s)))                 key, (N, d)
        k_st  = BN(W^b k_s)[t]                             per-pair key
        a_ts  = softmax_s( (<k_st, q_t> + <e^T_t, e^S_s>) / sqrt(d) )
        L     = sum_t mean_n sum_s a_ts * mean_j (v^S_s - v^T_t)_j^2

    with ``gap`` global average pooling (the spatially-pooled features),
    ``e`` learnable layer embeddings, ``d = qk_dim`` and ``v``
    :func:`spatial_attention` (channel-pooled, normalized maps). The pair
    terms are MSEs between normalized spatial attention maps, weighted by
    the learned attention; the projections are trained by this loss.

    Cross-modal design: in the official code the student maps are pooled
    to each teacher map's size; here both sides are pooled to one
    ``spatial_size`` grid, because audio spectrograms and images give maps
    of unrelated shapes (AV-digits: audio ``layer1`` 33x16, visual 8x8).
    Layers are passed by fixed names (the mmrazor mapping API):
    ``student_feat_1`` ... ``student_feat_{S}`` and ``teacher_feat_1`` ...
    ``teacher_feat_{T}``, ``S = len(student_channels)``,
    ``T = len(teacher_channels)``, at most 8 each (the official code
    takes every block output of a ResNet-18: ``backbone.layer1.0`` ..
    ``backbone.layer4.1``). The official recipe weights the loss by 200
    (its ``--beta``) next to 0.9 x KD at temperature 4 on the logits.

    Args:
        student_channels (Sequence[int]): channels of the student maps, e.g.
            ``[64, 128, 256, 512]`` (ResNet-18).
        teacher_channels (Sequence[int]): channels of the teacher maps.
        qk_dim (int): query / key width ``d``. Defaults to 128 (official).
        spatial_size (int | tuple[int, int]): the common grid of the value
            maps. Defaults to 8.
        loss_weight (float): multiplier (>= 0). Defaults to 1.0.
        teacher_detach (bool): detach the teacher maps (the query
            projections still learn). Defaults to True.
    """

    def __init__(self,
                 student_channels: Sequence[int],
                 teacher_channels: Sequence[int],
                 qk_dim: int = 128,
                 spatial_size: Union[int, Tuple[int, int]] = 8,
                 loss_weight: float = 1.0,
                 teacher_detach: bool = True) -> None:
        super().__init__()
        self.student_channels = _check_channels('student_channels',
                                                student_channels)
        self.teacher_channels = _check_channels('teacher_channels',
                                                teacher_channels)
        if not isinstance(qk_dim, int) or isinstance(qk_dim,
                                                     bool) or qk_dim < 1:
            raise ValueError(f'qk_dim={qk_dim!r} must be an int >= 1')
        size = ((spatial_size, spatial_size)
                if isinstance(spatial_size, int) else tuple(spatial_size))
        if len(size) != 2 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1
                for v in size):
            raise ValueError(f'spatial_size={spatial_size!r} must be an int '
                             '>= 1 or a pair of them')
        check_loss_weight(loss_weight)
        self.qk_dim = qk_dim
        self.spatial_size: Tuple[int, int] = size  # type: ignore[assignment]
        self.loss_weight = float(loss_weight)
        self.teacher_detach = bool(teacher_detach)
        n_s, n_t = len(self.student_channels), len(self.teacher_channels)
        self.query = nn.ModuleList(
            _LinearBN(c, qk_dim, relu=False) for c in self.teacher_channels)
        self.key = nn.ModuleList(
            _LinearBN(c, qk_dim, relu=True) for c in self.student_channels)
        # one key per (student layer, teacher layer) pair
        self.bilinear = _LinearBN(qk_dim, qk_dim * n_t, relu=False)
        self.teacher_embed = nn.Parameter(torch.empty(n_t, qk_dim))
        self.student_embed = nn.Parameter(torch.empty(n_s, qk_dim))
        nn.init.xavier_normal_(self.teacher_embed)
        nn.init.xavier_normal_(self.student_embed)

    @staticmethod
    def _gather(prefix: str, given: Sequence[Optional[Tensor]],
                channels: List[int]) -> List[Tensor]:
        n = len(channels)
        passed = [i + 1 for i, f in enumerate(given) if f is not None]
        if passed != list(range(1, n + 1)):
            raise ValueError(
                f'{prefix}_1 .. {prefix}_{n} are needed ({n} channel counts '
                f'configured), got {[f"{prefix}_{i}" for i in passed]}')
        feats = list(given[:n])
        for i, (f, c) in enumerate(zip(feats, channels)):
            if f.dim() != 4 or f.shape[1] != c:
                raise ValueError(
                    f'{prefix}_{i + 1} must be (N, {c}, H, W), got shape '
                    f'{tuple(f.shape)}')
        return feats  # type: ignore[return-value]

    def attention(self, student_feats: Sequence[Tensor],
                  teacher_feats: Sequence[Tensor]) -> Tensor:
        """Attention weights ``a`` of shape ``(N, T, S)`` (rows sum to 1)."""
        n_s, n_t = len(student_feats), len(teacher_feats)
        # projections of the spatially pooled features
        query = [q(f.mean((2, 3))) for q, f in zip(self.query, teacher_feats)]
        key = [k(f.mean((2, 3))) for k, f in zip(self.key, student_feats)]
        query = torch.stack(query, dim=1)  # (N, T, d)
        key = torch.stack(key, dim=1)  # (N, S, d)
        batch = key.shape[0]
        pair_key = self.bilinear(key.reshape(batch * n_s, -1)).reshape(
            batch, n_s, n_t, self.qk_dim)  # (N, S, T, d)
        logit = torch.einsum('nstd,ntd->nts', pair_key, query)
        logit = logit + self.teacher_embed @ self.student_embed.t()
        return F.softmax(logit / math.sqrt(self.qk_dim), dim=2)

    def forward(self,
                student_feat_1: Tensor,
                teacher_feat_1: Tensor,
                student_feat_2: Optional[Tensor] = None,
                student_feat_3: Optional[Tensor] = None,
                student_feat_4: Optional[Tensor] = None,
                student_feat_5: Optional[Tensor] = None,
                student_feat_6: Optional[Tensor] = None,
                student_feat_7: Optional[Tensor] = None,
                student_feat_8: Optional[Tensor] = None,
                teacher_feat_2: Optional[Tensor] = None,
                teacher_feat_3: Optional[Tensor] = None,
                teacher_feat_4: Optional[Tensor] = None,
                teacher_feat_5: Optional[Tensor] = None,
                teacher_feat_6: Optional[Tensor] = None,
                teacher_feat_7: Optional[Tensor] = None,
                teacher_feat_8: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            student_feat_k (Tensor): ``(N, student_channels[k-1], H, W)``,
                ``k = 1 .. S``; the others must be None.
            teacher_feat_k (Tensor): ``(N, teacher_channels[k-1], H', W')``,
                ``k = 1 .. T``; any ``H', W'``.

        Returns:
            Tensor: a weighted scalar (float32 for half-precision inputs).
        """
        s_feats = self._gather(
            'student_feat',
            [
                student_feat_1, student_feat_2, student_feat_3,
                student_feat_4, student_feat_5, student_feat_6,
                student_feat_7, student_feat_8
            ],
            self.student_channels)
        t_feats = self._gather(
            'teacher_feat',
            [
                teacher_feat_1, teacher_feat_2, teacher_feat_3,
                teacher_feat_4, teacher_feat_5, teacher_feat_6,
                teacher_feat_7, teacher_feat_8
            ],
            self.teacher_channels)
        if self.teacher_detach:
            t_feats = [f.detach() for f in t_feats]
        s_feats = [upcast(f) for f in s_feats]
        t_feats = [upcast(f) for f in t_feats]
        att = self.attention(s_feats, t_feats)  # (N, T, S)
        v_s = torch.stack(
            [spatial_attention(f, self.spatial_size) for f in s_feats],
            dim=1)  # (N, S, h*w)
        v_t = torch.stack(
            [spatial_attention(f, self.spatial_size) for f in t_feats],
            dim=1)  # (N, T, h*w)
        # mean squared error of every (teacher t, student s) pair: (N, T, S)
        pair_mse = (v_t[:, :, None] - v_s[:, None]).pow(2).mean(-1)
        loss = (att * pair_mse).sum(2).mean(0).sum()
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'student_channels={self.student_channels}, '
                f'teacher_channels={self.teacher_channels}, '
                f'qk_dim={self.qk_dim}, spatial_size={self.spatial_size}, '
                f'loss_weight={self.loss_weight}, '
                f'teacher_detach={self.teacher_detach}')
