"""Deep Mutual Learning (DML), Zhang et al., CVPR 2018."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fdkd_plugin.registry import MODELS
from .dkd_loss import (check_number, check_class_logits, check_kl_reduction,
                       reduce_per_sample)
from .utils import check_loss_weight, upcast

__all__ = ['DMLLoss', 'dml_loss', 'check_teacher_trains']


def check_teacher_trains(loss: nn.Module, student_out: Tensor,
                         teacher_out: Tensor) -> None:
    """Refuse a frozen teacher where the method trains both networks.

    Raised only in a training step: ``loss`` in training mode, autograd on
    and ``student_out`` requiring grad, while ``teacher_out`` does not.
    Evaluation and ``torch.no_grad`` passes are allowed. A frozen teacher
    would silently turn the teacher's half of the loss into a constant.
    """
    if (loss.training and torch.is_grad_enabled() and student_out.requires_grad
            and not teacher_out.requires_grad):
        raise RuntimeError(
            f'{type(loss).__name__} trains the teacher too, but the teacher '
            'output does not require grad: set teacher_trainable=True in '
            'fdkd.CrossModalDistill')


def dml_loss(student_logits: Tensor,
             teacher_logits: Tensor,
             tau: float = 1.0,
             reduction: str = 'batchmean') -> Tensor:
    """Both directions of DML (Zhang et al., CVPR 2018).

    With ``p = softmax(z / tau)``, per sample

        L = tau^2 * [ KL(sg(p_T) || p_S) + KL(sg(p_S) || p_T) ]

    where ``sg`` stops the gradient: the first term trains only the student,
    the second only the teacher (each network learns from the other's
    current prediction, as in the paper's alternating updates).

    Args:
        student_logits (Tensor): ``(N, C)``.
        teacher_logits (Tensor): ``(N, C)``.
        tau (float): temperature (the paper: 1). Defaults to 1.0.
        reduction (str): ``'batchmean'``, ``'sum'`` or ``'none'``.

    Returns:
        Tensor: a scalar, or ``(N,)`` for ``reduction='none'``.
    """
    check_class_logits(student_logits, teacher_logits)
    log_s = F.log_softmax(upcast(student_logits) / tau, dim=1)
    log_t = F.log_softmax(upcast(teacher_logits) / tau, dim=1)
    # KL(p || q) per sample, from log-probabilities
    to_student = F.kl_div(
        log_s, log_t.detach(), reduction='none', log_target=True).sum(1)
    to_teacher = F.kl_div(
        log_t, log_s.detach(), reduction='none', log_target=True).sum(1)
    return reduce_per_sample(tau**2 * (to_student + to_teacher), reduction)


@MODELS.register_module()
class DMLLoss(nn.Module):
    """Deep Mutual Learning (Zhang, Xiang, Hospedales, Lu, "Deep Mutual
    Learning", CVPR 2018) between the student and a *trained* teacher.

        loss = loss_weight * tau^2 * [KL(sg(p_T) || p_S) + KL(sg(p_S) || p_T)]

    Each network's total loss is its own cross-entropy plus the KL towards
    the other's (detached) prediction; ``fdkd.CrossModalDistill`` adds both
    cross-entropies (the teacher's as ``teacher.*``) when
    ``teacher_trainable=True``, which DML requires: in a training step this
    loss raises RuntimeError if the teacher logits do not require grad
    (the teacher's half would otherwise be a silent constant). The paper
    uses ``tau = 1`` and ``batchmean`` KL (as here).

    Args:
        tau (float): temperature (> 0). Defaults to 1.0.
        reduction (str): ``'batchmean'``, ``'sum'`` or ``'none'``. Defaults
            to ``'batchmean'``.
        loss_weight (float): multiplier (>= 0). Defaults to 1.0.
    """

    def __init__(self,
                 tau: float = 1.0,
                 reduction: str = 'batchmean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_number('tau', tau, positive=True)
        check_kl_reduction(reduction)
        check_loss_weight(loss_weight)
        self.tau = float(tau)
        self.reduction = reduction
        self.loss_weight = float(loss_weight)

    def forward(self, student_logits: Tensor,
                teacher_logits: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            student_logits (Tensor): ``(N, C)``.
            teacher_logits (Tensor): ``(N, C)``, from a trainable teacher.

        Returns:
            Tensor: a weighted scalar (``(N,)`` for ``reduction='none'``).
        """
        check_teacher_trains(self, student_logits, teacher_logits)
        loss = dml_loss(student_logits, teacher_logits, self.tau,
                        self.reduction)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'tau={self.tau}, reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')
