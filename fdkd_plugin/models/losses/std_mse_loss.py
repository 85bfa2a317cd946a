"""Standardized MSE: the low-frequency distillation loss of FDKD (Eq. 8)."""
import math

from torch import Tensor, nn

from fdkd_plugin.frequency import standardize as standardize_fn
from fdkd_plugin.registry import MODELS
from .utils import (check_loss_weight, check_reduction, check_same_shape,
                    reduce_squared_error, upcast)

__all__ = ['std_mse_loss', 'StdMSELoss', 'check_standardizable']


def check_standardizable(feat: Tensor, loss_name: str) -> None:
    """Raise ValueError if each sample of ``feat`` is a single value.

    Eq. 7 maps a one-value sample to 0 (its mean is itself), so a
    standardized loss of ``(N, 1)`` features is 0 for every input, with no
    gradient: a silent no-op that a config never means.
    """
    if math.prod(feat.shape[1:]) == 1:
        raise ValueError(
            f'{loss_name}: features of shape {tuple(feat.shape)} have one '
            f'value per sample; standardization (Eq. 7) maps it to 0, so '
            f'the loss would be 0 for every input. Distill features of >= 2 '
            f'values per sample, or set standardize=False')


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

    Raises:
        ValueError: different shapes, or ``standardize=True`` with one value
            per sample (``(N, 1)``), where Eq. 7 makes the loss always 0.
    """
    check_same_shape(student_feat, teacher_feat)
    if standardize:
        check_standardizable(student_feat, 'StdMSELoss')
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

    Degenerate inputs (see :func:`fdkd_plugin.frequency.standardize`): a
    constant (or all-zero) sample standardizes to 0, so against a teacher
    sample with ``||t - mean|| >= eps`` it costs exactly ``1`` (``1 / D``
    of the ``'mean'`` loss per sample of the batch), and two constant
    samples cost 0. The gradient into each student sample has L2
    norm at most ``4 * loss_weight / (N * D * eps)`` (``eps = 1e-3``;
    ``4 * loss_weight / (N * eps)`` for ``'sum_per_sample'``), finite for
    any finite input of any scale. ``(N, 1)`` features raise a ValueError
    with ``standardize=True`` (the loss would be identically 0).

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
