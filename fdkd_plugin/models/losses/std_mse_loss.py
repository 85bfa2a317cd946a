"""Standardized MSE: the low-frequency distillation loss of FDKD (Eq. 8)."""
from torch import Tensor, nn

from fdkd_plugin.frequency import standardize as standardize_fn
from fdkd_plugin.registry import MODELS
from .utils import (check_loss_weight, check_reduction, check_same_shape,
                    reduce_squared_error, upcast)

__all__ = ['std_mse_loss', 'StdMSELoss']


def std_mse_loss(student_feat: Tensor,
                 teacher_feat: Tensor,
                 standardize: bool = True,
                 reduction: str = 'mean') -> Tensor:
    """MSE between standardized features, paper Eq. 8 (Eq. 4 without Std).

        L = 1 / (N * D) * || Std(s) - Std(t) ||^2        (reduction='mean')

    with ``Std`` of Eq. 7 per sample over all non-batch dims (``D`` of
    ``(N, D)``, ``(C, H, W)`` of ``(N, C, H, W)``, so ``D = C * H * W``
    there). ``reduction='sum_per_sample'`` divides by ``N`` only (``D`` times
    larger). ``standardize=False`` gives the plain MSE of Eq. 4.

    Args:
        student_feat (Tensor): ``(N, D)`` or ``(N, C, H, W)``.
        teacher_feat (Tensor): same shape as ``student_feat``.
        standardize (bool): apply Eq. 7 to both first. Defaults to True.
        reduction (str): ``'mean'`` or ``'sum_per_sample'``. Defaults to
            ``'mean'``.

    Returns:
        Tensor: a scalar; float32 for float16 / bfloat16 inputs.
    """
    check_same_shape(student_feat, teacher_feat)
    s, t = upcast(student_feat), upcast(teacher_feat)
    if standardize:
        s, t = standardize_fn(s), standardize_fn(t)
    return reduce_squared_error(s - t, reduction)


@MODELS.register_module()
class StdMSELoss(nn.Module):
    """Standardized MSE loss for low-frequency features (paper Eq. 8).

        loss = loss_weight / (N * D) * || Std(s) - Std(t) ||^2

    ``Std(x) = (x - mean) / ||x - mean||_2`` per sample (Eq. 7). Each
    standardized sample has unit norm, so per sample
    ``||Std(s) - Std(t)||^2 = 2 - 2 r`` with ``r`` the Pearson correlation of
    ``s`` and ``t`` (as in mmrazor's PKD loss); it lies in [0, 4]. Hence with
    ``reduction='mean'`` (the paper's ``1/(ND)``) the loss is at most
    ``4 / D`` (``4 / 512 ~ 0.008`` for ResNet-18 features) and may be small
    next to a cross-entropy term. ``reduction='sum_per_sample'`` (sum over
    features, mean over the batch) is ``D`` times larger, ``2 - 2 r``
    averaged over the batch. Nothing is rescaled silently:
    pick the reduction, or ``loss_weight``, in the config.

    Args:
        loss_weight (float): multiplier (>= 0). Defaults to 1.0.
        standardize (bool): apply Eq. 7 (True) or use plain MSE, Eq. 4
            (False). Defaults to True.
        reduction (str): ``'mean'`` (sum / (N * D)) or ``'sum_per_sample'``
            (sum / N). Defaults to ``'mean'``.
        teacher_detach (bool): detach ``teacher_feat`` so no gradient
            reaches the teacher. Set False only for a trainable teacher
            (mutual learning). Defaults to True.
    """

    # the functional form; LogMSELoss swaps in Eq. 9
    loss_fn = staticmethod(std_mse_loss)

    def __init__(self,
                 loss_weight: float = 1.0,
                 standardize: bool = True,
                 reduction: str = 'mean',
                 teacher_detach: bool = True) -> None:
        super().__init__()
        check_loss_weight(loss_weight)
        check_reduction(reduction)
        self.loss_weight = float(loss_weight)
        self.standardize = bool(standardize)
        self.reduction = reduction
        self.teacher_detach = bool(teacher_detach)

    def forward(self, student_feat: Tensor, teacher_feat: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            student_feat (Tensor): ``(N, D)`` or ``(N, C, H, W)``.
            teacher_feat (Tensor): same shape as ``student_feat``.

        Returns:
            Tensor: a weighted scalar.
        """
        if self.teacher_detach:
            teacher_feat = teacher_feat.detach()
        loss = self.loss_fn(student_feat, teacher_feat, self.standardize,
                            self.reduction)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, '
                f'standardize={self.standardize}, '
                f'reduction={self.reduction!r}, '
                f'teacher_detach={self.teacher_detach}')
