"""Decoupled Knowledge Distillation (DKD), Zhao et al., CVPR 2022.

Also holds the class-logit helpers that NKD and C2KD reuse (logit checks,
label handling, the non-target split).
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fdkd_plugin.registry import MODELS
from .utils import check_loss_weight, upcast

__all__ = [
    'DKDLoss', 'dkd_loss', 'check_number', 'check_class_logits',
    'class_indices', 'non_target_logits', 'KL_REDUCTIONS',
    'check_kl_reduction', 'reduce_per_sample'
]

#: ``'batchmean'``: mean over the batch of the per-sample KL (the KL's own
#: batch mean, PyTorch's recommended ``kl_div`` reduction); ``'sum'``: sum
#: over the batch; ``'none'``: the ``(N,)`` per-sample values.
KL_REDUCTIONS: Tuple[str, ...] = ('batchmean', 'sum', 'none')


def check_kl_reduction(reduction: str) -> None:
    """Raise ValueError unless ``reduction`` is one of :data:`KL_REDUCTIONS`.

    ``'mean'`` is refused on purpose: ``F.kl_div``'s ``'mean'`` divides by
    ``N * C`` elements, which is not a mean of the per-sample KL.
    """
    if reduction not in KL_REDUCTIONS:
        raise ValueError(
            f'reduction={reduction!r} must be one of {KL_REDUCTIONS} '
            "('mean' of F.kl_div divides by N * C, not by the batch size)")


def reduce_per_sample(loss: Tensor, reduction: str) -> Tensor:
    """Reduce ``(N,)`` per-sample losses by a :data:`KL_REDUCTIONS` mode."""
    check_kl_reduction(reduction)
    if reduction == 'batchmean':
        return loss.mean()
    if reduction == 'sum':
        return loss.sum()
    return loss


def check_class_logits(student_logits: Tensor,
                       teacher_logits: Tensor,
                       min_classes: int = 2) -> None:
    """Raise ValueError unless both are ``(N, C)`` logits of one shape with
    ``C >= min_classes``."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f'student_logits shape {tuple(student_logits.shape)} != '
            f'teacher_logits shape {tuple(teacher_logits.shape)}')
    if student_logits.dim() != 2:
        raise ValueError(f'logits must be (N, C), got shape '
                         f'{tuple(student_logits.shape)}')
    if student_logits.shape[1] < min_classes:
        raise ValueError(f'logits have C={student_logits.shape[1]} classes, '
                         f'need at least {min_classes}')


def class_indices(gt_label: Tensor, num_samples: int) -> Tensor:
    """Class indices as an ``(N,)`` int64 tensor.

    Args:
        gt_label (Tensor): ``(N,)`` or ``(N, 1)`` integer class indices (as
            mmpretrain's ``head.loss_module`` receives them).
        num_samples (int): the batch size ``N`` of the logits.

    Raises:
        ValueError: float (soft / one-hot) labels or a wrong count.
    """
    if not isinstance(gt_label, Tensor):
        raise TypeError(f'gt_label must be a Tensor, got {type(gt_label)}')
    if gt_label.is_floating_point() or gt_label.is_complex():
        raise ValueError(
            f'gt_label must hold integer class indices, got dtype '
            f'{gt_label.dtype} (soft or one-hot labels are not supported)')
    label = gt_label.reshape(-1)
    if label.numel() != num_samples:
        raise ValueError(f'gt_label has {label.numel()} entries (shape '
                         f'{tuple(gt_label.shape)}) for {num_samples} samples')
    return label.long()


def non_target_logits(logits: Tensor, label: Tensor) -> Tensor:
    """The ``(N, C - 1)`` logits of every class but the sample's target,
    in class order (an exact drop, not a ``-1000`` mask as in mmrazor)."""
    n, c = logits.shape
    keep = torch.ones_like(logits, dtype=torch.bool)
    keep[torch.arange(n, device=logits.device), label] = False
    return logits[keep].reshape(n, c - 1)


def _xlogy_kl(log_p: Tensor, log_q: Tensor) -> Tensor:
    """Per-sample ``KL(p || q) = sum p (log p - log q)`` over the last dim
    from log-probabilities; terms with ``p = 0`` count 0."""
    p = log_p.exp()
    terms = p * (log_p - log_q)
    return torch.where(p > 0, terms, torch.zeros_like(terms)).sum(-1)


def dkd_loss(student_logits: Tensor,
             teacher_logits: Tensor,
             gt_label: Tensor,
             alpha: float = 1.0,
             beta: float = 8.0,
             tau: float = 4.0,
             reduction: str = 'batchmean') -> Tensor:
    """DKD of Zhao et al., CVPR 2022.

    With ``p = softmax(z / tau)`` over the C classes and ``g`` the label:

    - binary target / non-target probabilities ``b = (p_g, 1 - p_g)``,
    - ``p^`` = softmax over the ``C - 1`` non-target logits ``/ tau``
      (``p_i / (1 - p_g)`` for ``i != g``),

    per sample

        TCKD = KL(b^T || b^S),     NCKD = KL(p^T^ || p^S^),
        L    = tau^2 * (alpha * TCKD + beta * NCKD)

    and ``reduction`` over the batch. With ``alpha = 1`` and
    ``beta = 1 - p^T_g`` per sample this is Hinton's ``tau^2 KL(p^T || p^S)``
    (the paper's reformulation ``KD = TCKD + (1 - p^T_g) NCKD``).

    Args:
        student_logits (Tensor): ``(N, C)``, ``C >= 2``.
        teacher_logits (Tensor): ``(N, C)``.
        gt_label (Tensor): ``(N,)`` or ``(N, 1)`` class indices.
        alpha (float): TCKD weight. Defaults to 1.0.
        beta (float): NCKD weight. Defaults to 8.0.
        tau (float): temperature. Defaults to 4.0.
        reduction (str): one of :data:`KL_REDUCTIONS`. Defaults to
            ``'batchmean'`` (the official code's ``sum / N``).

    Returns:
        Tensor: a scalar, or ``(N,)`` for ``reduction='none'``; float32 for
        float16 / bfloat16 inputs.
    """
    check_class_logits(student_logits, teacher_logits)
    label = class_indices(gt_label, student_logits.shape[0])
    zs = upcast(student_logits) / tau
    zt = upcast(teacher_logits) / tau
    idx = label[:, None]
    # log b = (log p_g, log(1 - p_g)), the latter as a logsumexp over the
    # non-target logits (no log(1 - p) cancellation)
    lse_s, lse_t = zs.logsumexp(1), zt.logsumexp(1)
    nt_s, nt_t = non_target_logits(zs, label), non_target_logits(zt, label)
    log_b_s = torch.stack(
        [zs.gather(1, idx)[:, 0] - lse_s,
         nt_s.logsumexp(1) - lse_s], dim=1)  # (N, 2)
    log_b_t = torch.stack(
        [zt.gather(1, idx)[:, 0] - lse_t,
         nt_t.logsumexp(1) - lse_t], dim=1)
    tckd = _xlogy_kl(log_b_t, log_b_s)  # (N,)
    log_h_s, log_h_t = F.log_softmax(nt_s, dim=1), F.log_softmax(nt_t, dim=1)
    nckd = _xlogy_kl(log_h_t, log_h_s)  # (N,)
    per_sample = tau**2 * (alpha * tckd + beta * nckd)
    return reduce_per_sample(per_sample, reduction)


def check_number(name: str, value: float, positive: bool = False) -> None:
    """Raise ValueError unless ``value`` is a number ``>= 0`` (``> 0`` with
    ``positive``), naming it ``name``."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or not (value > 0 if positive else value >= 0):
        bound = '> 0' if positive else '>= 0'
        raise ValueError(f'{name}={value!r} must be a number {bound}')


@MODELS.register_module()
class DKDLoss(nn.Module):
    """Decoupled Knowledge Distillation (Zhao et al., "Decoupled Knowledge
    Distillation", CVPR 2022).

        loss = loss_weight * tau^2 * (alpha * TCKD + beta * NCKD)

    ``TCKD = KL(b^T || b^S)`` on the binary target / non-target
    probabilities, ``NCKD = KL(p^T^ || p^S^)`` on the softmax over the
    non-target classes; see :func:`dkd_loss`.

    Defaults ``alpha=1, beta=8, tau=4`` are the DKD paper's CIFAR-100
    setting (megvii-research/mdistiller ``configs/cifar100/dkd``, which also
    ramps the loss in over 20 warm-up epochs; no warm-up here). The ImageNet
    setting is ``alpha=1, beta=0.5, tau=1``, as in mmrazor's
    ``configs/distill/mmcls/dkd``.

    Unlike mmrazor's ``DKDLoss``, ``reduction`` is honoured: mmrazor passes
    ``size_average=False`` to ``F.kl_div``, which makes every reduction a
    *sum* over the batch, so its published config (``reduction='mean'``)
    trains with ``N`` times the official ``batchmean`` loss.

    Args:
        alpha (float): TCKD weight (>= 0). Defaults to 1.0.
        beta (float): NCKD weight (>= 0). Defaults to 8.0.
        tau (float): temperature (> 0). Defaults to 4.0.
        reduction (str): ``'batchmean'`` (sum / N, as the official code),
            ``'sum'`` or ``'none'`` (``(N,)``). Defaults to ``'batchmean'``.
        loss_weight (float): multiplier (>= 0). Defaults to 1.0.
        teacher_detach (bool): detach ``teacher_logits``. Defaults to True.
    """

    def __init__(self,
                 alpha: float = 1.0,
                 beta: float = 8.0,
                 tau: float = 4.0,
                 reduction: str = 'batchmean',
                 loss_weight: float = 1.0,
                 teacher_detach: bool = True) -> None:
        super().__init__()
        check_number('alpha', alpha)
        check_number('beta', beta)
        check_number('tau', tau, positive=True)
        check_kl_reduction(reduction)
        check_loss_weight(loss_weight)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.tau = float(tau)
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        self.teacher_detach = bool(teacher_detach)

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                gt_label: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            student_logits (Tensor): ``(N, C)``.
            teacher_logits (Tensor): ``(N, C)``.
            gt_label (Tensor): ``(N,)`` or ``(N, 1)`` class indices.

        Returns:
            Tensor: a weighted scalar (``(N,)`` for ``reduction='none'``).
        """
        if self.teacher_detach:
            teacher_logits = teacher_logits.detach()
        loss = dkd_loss(student_logits, teacher_logits, gt_label, self.alpha,
                        self.beta, self.tau, self.reduction)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'alpha={self.alpha}, beta={self.beta}, tau={self.tau}, '
                f'reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}, '
                f'teacher_detach={self.teacher_detach}')
