"""Normalized Knowledge Distillation (NKD), Yang et al., ICCV 2023."""
import torch.nn.functional as F
from torch import Tensor, nn

from fdkd_plugin.registry import MODELS
from .dkd_loss import (check_number, check_class_logits, class_indices,
                       check_kl_reduction, non_target_logits,
                       reduce_per_sample)
from .utils import check_loss_weight, upcast

__all__ = ['NKDLoss', 'nkd_loss']


def nkd_loss(student_logits: Tensor,
             teacher_logits: Tensor,
             gt_label: Tensor,
             tau: float = 1.0,
             gamma: float = 1.5,
             target_weight: float = 1.0,
             reduction: str = 'batchmean') -> Tensor:
    """The normalized KD loss of NKD (Yang et al., ICCV 2023).

    With ``g`` the label, ``p = softmax(z)`` (temperature 1) and ``q`` the
    softmax over the ``C - 1`` *non-target* logits divided by ``tau``
    (the non-target probabilities renormalized to sum to 1), per sample

        L = - target_weight * p^T_g * log p^S_g
            - gamma * tau^2 * sum_{i != g} q^T_i * log q^S_i

    The first term is a cross-entropy on the target class weighted by the
    teacher's target probability (``p^T_g`` is never differentiated); the
    second is a cross-entropy (not a KL: it keeps the teacher's non-target
    entropy, so identical logits do not give 0) between the normalized
    non-target distributions. ``target_weight=0`` keeps only the non-target
    term ("only non-target class logits", as the FDKD paper's Table 1
    caption describes NKD).

    Args:
        student_logits (Tensor): ``(N, C)``, ``C >= 2``.
        teacher_logits (Tensor): ``(N, C)``.
        gt_label (Tensor): ``(N,)`` or ``(N, 1)`` class indices.
        tau (float): temperature of the non-target term. Defaults to 1.0.
        gamma (float): weight of the non-target term. Defaults to 1.5.
        target_weight (float): weight of the target term. Defaults to 1.0.
        reduction (str): ``'batchmean'``, ``'sum'`` or ``'none'``.

    Returns:
        Tensor: a scalar, or ``(N,)`` for ``reduction='none'``.
    """
    check_class_logits(student_logits, teacher_logits)
    label = class_indices(gt_label, student_logits.shape[0])
    zs, zt = upcast(student_logits), upcast(teacher_logits)
    idx = label[:, None]
    log_ps_g = F.log_softmax(zs, dim=1).gather(1, idx)[:, 0]
    pt_g = F.softmax(zt, dim=1).gather(1, idx)[:, 0].detach()
    target = -pt_g * log_ps_g  # (N,)
    log_qs = F.log_softmax(non_target_logits(zs, label) / tau, dim=1)
    qt = F.softmax(non_target_logits(zt, label) / tau, dim=1)
    non_target = -(qt * log_qs).sum(1)  # (N,)
    per_sample = target_weight * target + gamma * tau**2 * non_target
    return reduce_per_sample(per_sample, reduction)


@MODELS.register_module()
class NKDLoss(nn.Module):
    """Normalized KD (Yang, Zeng, Li, Zhang, Yuan, Li, "From Knowledge
    Distillation to Self-Knowledge Distillation: A Unified Approach with
    Normalized Loss and Customized Soft Labels", ICCV 2023).

        loss = loss_weight * mean_n [ - p^T_g log p^S_g
                                      - gamma tau^2 sum_{i!=g} q^T_i log q^S_i]

    (see :func:`nkd_loss`). Defaults ``tau=1.0, gamma=1.5`` are the
    official ones (yzd-v/cls_KD ``NKDLoss(temp=1.0, gamma=1.5)``, its
    ImageNet ResNet-34 -> ResNet-18 config). The student's own
    cross-entropy stays in the student's head; this loss adds the NKD terms.

    Args:
        tau (float): temperature of the non-target term (> 0). Defaults to
            1.0.
        gamma (float): non-target weight (>= 0). Defaults to 1.5.
        target_weight (float): target-term weight (>= 0); 0 keeps only the
            normalized non-target term. Defaults to 1.0.
        reduction (str): ``'batchmean'``, ``'sum'`` or ``'none'``. Defaults
            to ``'batchmean'`` (the official code's mean over the batch).
        loss_weight (float): multiplier (>= 0). Defaults to 1.0.
        teacher_detach (bool): detach ``teacher_logits``. Defaults to True.
    """

    def __init__(self,
                 tau: float = 1.0,
                 gamma: float = 1.5,
                 target_weight: float = 1.0,
                 reduction: str = 'batchmean',
                 loss_weight: float = 1.0,
                 teacher_detach: bool = True) -> None:
        super().__init__()
        check_number('tau', tau, positive=True)
        check_number('gamma', gamma)
        check_number('target_weight', target_weight)
        check_kl_reduction(reduction)
        check_loss_weight(loss_weight)
        self.tau = float(tau)
        self.gamma = float(gamma)
        self.target_weight = float(target_weight)
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
        loss = nkd_loss(student_logits, teacher_logits, gt_label, self.tau,
                        self.gamma, self.target_weight, self.reduction)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'tau={self.tau}, gamma={self.gamma}, '
                f'target_weight={self.target_weight}, '
                f'reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}, '
                f'teacher_detach={self.teacher_detach}')
