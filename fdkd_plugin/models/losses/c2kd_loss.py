"""C2KD, Huo et al., CVPR 2024: proxies, bidirectional KL and on-the-fly
selection of non-target distillation by Kendall rank correlation."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fdkd_plugin.registry import MODELS
from .dkd_loss import (check_number, check_class_logits, class_indices,
                       non_target_logits)
from .dml_loss import check_teacher_trains
from .utils import check_loss_weight, upcast

__all__ = ['C2KDLoss', 'c2kd_loss', 'kendall_tau', 'ProxyHead']

#: how the target class is taken out of the non-target KL: ``'zero'`` sets
#: its logit to 0 and keeps it in the softmax (the official code);
#: ``'drop'`` removes it (a softmax over the C - 1 non-target classes).
NON_TARGET_MODES: Tuple[str, ...] = ('zero', 'drop')


@torch.no_grad()
def kendall_tau(x: Tensor, y: Tensor) -> Tensor:
    """Kendall rank correlation (tau-b) of each row pair, without autograd.

        tau_b = (P - Q) / sqrt((n0 - n1) (n0 - n2))

    over the ``n0 = C (C - 1) / 2`` index pairs ``i < j`` of a row: ``P``
    concordant pairs (``sign(x_i - x_j) = sign(y_i - y_j) != 0``), ``Q``
    discordant ones, ``n1`` / ``n2`` pairs tied in ``x`` / ``y``. Without
    ties it is ``(P - Q) / n0`` and equals ``scipy.stats.kendalltau``; with
    ties it is scipy's default tau-b too. A row constant in ``x`` or ``y``
    gives NaN (as scipy). Cost ``O(N C^2)`` memory, fine for class logits.

    Args:
        x (Tensor): ``(N, C)``.
        y (Tensor): ``(N, C)``.

    Returns:
        Tensor: ``(N,)`` in ``[-1, 1]``, float32 (float64 for float64 input).
    """
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError(f'kendall_tau needs two (N, C) tensors of one '
                         f'shape, got {tuple(x.shape)} and {tuple(y.shape)}')
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    sx = torch.sign(x[:, :, None] - x[:, None, :]).to(dtype)  # (N, C, C)
    sy = torch.sign(y[:, :, None] - y[:, None, :]).to(dtype)
    c = x.shape[1]
    upper = torch.ones(c, c, dtype=torch.bool, device=x.device).triu(1)
    num = (sx * sy)[:, upper].sum(1)  # P - Q
    untied_x = sx.abs()[:, upper].sum(1)  # n0 - n1
    untied_y = sy.abs()[:, upper].sum(1)  # n0 - n2
    return num / (untied_x * untied_y).sqrt()


def _non_target_log_probs(logits: Tensor, label: Tensor, tau: float,
                          mode: str) -> Tensor:
    """Log-probabilities of the non-target distribution, see
    :data:`NON_TARGET_MODES`."""
    if mode == 'drop':
        return F.log_softmax(non_target_logits(logits, label) / tau, dim=1)
    keep = torch.ones_like(logits)
    keep[torch.arange(logits.shape[0], device=logits.device), label] = 0
    return F.log_softmax(logits * keep / tau, dim=1)


def _kl(log_p: Tensor, log_q: Tensor) -> Tensor:
    """Per-sample ``KL(p || q)`` from log-probabilities: ``(N,)``."""
    return F.kl_div(log_q, log_p, reduction='none', log_target=True).sum(1)


def c2kd_loss(student_proxy: Tensor,
              teacher_proxy: Tensor,
              student_logits: Tensor,
              teacher_logits: Tensor,
              gt_label: Tensor,
              tau: float = 1.0,
              krc_threshold: float = 0.0,
              bid_weight: float = 1.0,
              ofsd_weight: float = 1.0,
              non_target: str = 'zero') -> Tensor:
    """The C2KD objective without the two cross-entropies.

    ``sg`` stops the gradient, ``p = softmax(. / tau)``, ``KL`` is the
    batch mean of the per-sample KL, ``n`` indexes samples (``N`` of them):

        L_bid  = KL(sg p(z_S) || p(o_S)) + KL(sg p(o_S) || p(z_S))
               + KL(sg p(z_T) || p(o_T)) + KL(sg p(o_T) || p(z_T))
        m_n    = [ kendall_tau(o_T, o_S)_n > krc_threshold ]
        L_ofsd = 1/N sum_n m_n [KL_nt(sg o_T || o_S) + KL_nt(sg o_S || o_T)]_n
        L      = tau^2 (bid_weight L_bid + ofsd_weight L_ofsd)

    ``z`` are the networks' logits, ``o`` the proxies' logits, ``KL_nt`` the
    KL between non-target distributions (see :data:`NON_TARGET_MODES`).
    Each network and its proxy teach each other (bidirectional KL); across
    modalities only the proxies exchange knowledge, and only on samples
    whose proxies rank the classes alike (on-the-fly selection). Samples
    failing the gate still count in the ``1/N``, as in the official code.

    Args:
        student_proxy (Tensor): ``(N, C)`` logits of the student's proxy.
        teacher_proxy (Tensor): ``(N, C)`` logits of the teacher's proxy.
        student_logits (Tensor): ``(N, C)`` logits of the student.
        teacher_logits (Tensor): ``(N, C)`` logits of the teacher.
        gt_label (Tensor): ``(N,)`` or ``(N, 1)`` class indices.
        tau (float): temperature of every KL. Defaults to 1.0.
        krc_threshold (float): the Kendall gate (strict ``>``). Defaults
            to 0.0.
        bid_weight (float): weight of ``L_bid``. Defaults to 1.0.
        ofsd_weight (float): weight of ``L_ofsd``. Defaults to 1.0.
        non_target (str): ``'zero'`` or ``'drop'``. Defaults to ``'zero'``.

    Returns:
        Tensor: a scalar.
    """
    for other in (teacher_proxy, student_logits, teacher_logits):
        check_class_logits(student_proxy, other)
    if non_target not in NON_TARGET_MODES:
        raise ValueError(f'non_target={non_target!r} must be one of '
                         f'{NON_TARGET_MODES}')
    label = class_indices(gt_label, student_proxy.shape[0])
    o_s, o_t = upcast(student_proxy) / tau, upcast(teacher_proxy) / tau
    z_s, z_t = upcast(student_logits) / tau, upcast(teacher_logits) / tau
    lo_s, lo_t = F.log_softmax(o_s, dim=1), F.log_softmax(o_t, dim=1)
    lz_s, lz_t = F.log_softmax(z_s, dim=1), F.log_softmax(z_t, dim=1)
    bid = (_kl(lz_s.detach(), lo_s) + _kl(lo_s.detach(), lz_s) +
           _kl(lz_t.detach(), lo_t) + _kl(lo_t.detach(), lz_t)).mean()

    gate = kendall_tau(teacher_proxy.detach(), student_proxy.detach())
    mask = (gate > krc_threshold).to(o_s.dtype)  # NaN fails the gate
    nt_s = _non_target_log_probs(o_s, label, 1.0, non_target)
    nt_t = _non_target_log_probs(o_t, label, 1.0, non_target)
    ofsd = mask * (_kl(nt_t.detach(), nt_s) + _kl(nt_s.detach(), nt_t))
    ofsd = ofsd.mean()  # over all N samples, gated ones count as 0
    return tau**2 * (bid_weight * bid + ofsd_weight * ofsd)


class ProxyHead(nn.Sequential):
    """C2KD's proxy classifier on a feature map (official ``Tea`` / ``Stu``):

        GAP -> 1x1 conv (C -> C, no bias) -> BN -> LeakyReLU(0.1) -> FC(C, K)

    Args:
        in_channels (int): ``C``.
        num_classes (int): ``K``.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        conv = nn.Conv2d(in_channels, in_channels, 1, bias=False)
        nn.init.kaiming_normal_(
            conv.weight, mode='fan_out', nonlinearity='relu')
        super().__init__(
            nn.AdaptiveAvgPool2d(1), conv, nn.BatchNorm2d(in_channels),
            nn.LeakyReLU(0.1), nn.Flatten(1),
            nn.Linear(in_channels, num_classes))

    def forward(self, feat: Tensor) -> Tensor:  # type: ignore[override]
        """``(N, C, H, W)`` or pooled ``(N, C)`` -> ``(N, K)`` logits."""
        if feat.dim() == 2:
            feat = feat[:, :, None, None]
        return super().forward(feat)


def _check_int(name: str, value: int, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f'{name}={value!r} must be an int >= {low}')


@MODELS.register_module()
class C2KDLoss(nn.Module):
    """C2KD (Huo, Xu, Guo, Wang, Guo, "C2KD: Bridging the Modality Gap for
    Cross-Modal Knowledge Distillation", CVPR 2024; huofushuo/C2KD).

        loss = loss_weight * tau^2 * (bid_weight * L_bid
                                      + ofsd_weight * L_ofsd)

    (see :func:`c2kd_loss`). A :class:`ProxyHead` on each network's feature
    map gives proxy logits ``o_S``, ``o_T``; each network's logits and its
    proxy teach each other (bidirectional KL), and the two proxies exchange
    non-target knowledge only on samples whose Kendall rank correlation
    ``kendall_tau(o_T, o_S)`` exceeds ``krc_threshold``. The teacher trains
    jointly (``teacher_trainable=True`` in ``fdkd.CrossModalDistill``, which
    adds its cross-entropy); in a training step this loss raises
    RuntimeError if the teacher logits do not require grad. The features
    are not detached: the proxy losses reach both backbones, as in the
    official code.

    Defaults follow the official code (``cramed/`` and ``ave/``
    ``main_overlap_tag.py`` and ``utils/helper.py``): proxies on the output
    of ResNet-18's ``layer3`` (the code's ``f4``, 256 channels), every KL at
    temperature 1 with weight 1, ``batchmean`` bidirectional KLs, gate
    ``kendall > 0.0`` (``--krc 0.0``) on the proxies' logits, non-target KL
    summed over classes, masked and averaged over the whole batch, the
    target logit zeroed (``non_target='zero'``).

    Args:
        student_channels (int): channels of ``student_feat``.
        teacher_channels (int): channels of ``teacher_feat``.
        num_classes (int): classes of the logits.
        tau (float): temperature (> 0). Defaults to 1.0.
        krc_threshold (float): Kendall gate in ``[-1, 1)``. Defaults to 0.0.
        bid_weight (float): ``L_bid`` weight (>= 0). Defaults to 1.0.
        ofsd_weight (float): ``L_ofsd`` weight (>= 0). Defaults to 1.0.
        non_target (str): ``'zero'`` (official) or ``'drop'``.
        loss_weight (float): multiplier (>= 0). Defaults to 1.0.
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 num_classes: int,
                 tau: float = 1.0,
                 krc_threshold: float = 0.0,
                 bid_weight: float = 1.0,
                 ofsd_weight: float = 1.0,
                 non_target: str = 'zero',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        _check_int('student_channels', student_channels, 1)
        _check_int('teacher_channels', teacher_channels, 1)
        _check_int('num_classes', num_classes, 2)
        check_number('tau', tau, positive=True)
        is_number = isinstance(
            krc_threshold,
            (int, float)) and not isinstance(krc_threshold, bool)
        if not is_number or not -1 <= krc_threshold < 1:
            raise ValueError(
                f'krc_threshold={krc_threshold!r} must be in [-1, 1)')
        check_number('bid_weight', bid_weight)
        check_number('ofsd_weight', ofsd_weight)
        if non_target not in NON_TARGET_MODES:
            raise ValueError(f'non_target={non_target!r} must be one of '
                             f'{NON_TARGET_MODES}')
        check_loss_weight(loss_weight)
        self.num_classes = num_classes
        self.tau = float(tau)
        self.krc_threshold = float(krc_threshold)
        self.bid_weight = float(bid_weight)
        self.ofsd_weight = float(ofsd_weight)
        self.non_target = non_target
        self.loss_weight = float(loss_weight)
        self.student_proxy = ProxyHead(student_channels, num_classes)
        self.teacher_proxy = ProxyHead(teacher_channels, num_classes)

    def forward(self, student_feat: Tensor, teacher_feat: Tensor,
                student_logits: Tensor, teacher_logits: Tensor,
                gt_label: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            student_feat (Tensor): ``(N, C_s, H, W)`` (or pooled ``(N, C_s)``).
            teacher_feat (Tensor): ``(N, C_t, H', W')`` (or ``(N, C_t)``).
            student_logits (Tensor): ``(N, num_classes)``.
            teacher_logits (Tensor): ``(N, num_classes)``, from a trainable
                teacher.
            gt_label (Tensor): ``(N,)`` or ``(N, 1)`` class indices.

        Returns:
            Tensor: a weighted scalar.
        """
        check_teacher_trains(self, student_logits, teacher_logits)
        if student_logits.dim() != 2 or \
                student_logits.shape[1] != self.num_classes:
            raise ValueError(
                f'student_logits must be (N, {self.num_classes}), got shape '
                f'{tuple(student_logits.shape)}')
        o_s = self.student_proxy(student_feat)
        o_t = self.teacher_proxy(teacher_feat)
        loss = c2kd_loss(o_s, o_t, student_logits, teacher_logits, gt_label,
                         self.tau, self.krc_threshold, self.bid_weight,
                         self.ofsd_weight, self.non_target)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, tau={self.tau}, '
                f'krc_threshold={self.krc_threshold}, '
                f'bid_weight={self.bid_weight}, '
                f'ofsd_weight={self.ofsd_weight}, '
                f'non_target={self.non_target!r}, '
                f'loss_weight={self.loss_weight}')
