"""Helpers shared by the feature losses: argument checks and reduction."""
from typing import Tuple

import torch
from torch import Tensor

__all__ = [
    'REDUCTIONS', 'check_reduction', 'check_loss_weight', 'check_same_shape',
    'reduce_squared_error', 'upcast'
]

#: ``'mean'``: sum / (N * D), the paper's ``1/(ND) ||.||^2`` (Eq. 4, 5, 8, 9).
#: ``'sum_per_sample'``: sum / N, i.e. ``D`` times ``'mean'``.
REDUCTIONS: Tuple[str, ...] = ('mean', 'sum_per_sample')


def check_reduction(reduction: str) -> None:
    """Raise ValueError unless ``reduction`` is one of :data:`REDUCTIONS`."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            f'reduction={reduction!r} must be one of {REDUCTIONS}')


def check_loss_weight(loss_weight: float) -> None:
    """Raise ValueError unless ``loss_weight`` is a number >= 0."""
    is_number = isinstance(loss_weight,
                           (int, float)) and not isinstance(loss_weight, bool)
    if not is_number or not loss_weight >= 0:
        raise ValueError(f'loss_weight={loss_weight!r} must be a number >= 0')


def check_same_shape(student_feat: Tensor, teacher_feat: Tensor) -> None:
    """Raise ValueError unless both features are at least 2-D (a batch dim
    and feature dims) and have exactly the same shape."""
    if student_feat.shape != teacher_feat.shape:
        raise ValueError(
            f'student_feat shape {tuple(student_feat.shape)} != teacher_feat '
            f'shape {tuple(teacher_feat.shape)}: the features must match '
            f'exactly (project them to a common width first)')
    if student_feat.dim() < 2:
        raise ValueError(
            f'features must be (N, ...) with a batch dim, got shape '
            f'{tuple(student_feat.shape)}')


def reduce_squared_error(diff: Tensor, reduction: str) -> Tensor:
    """Reduce ``diff ** 2`` of shape ``(N, ...)`` to a scalar.

    ``'mean'``: ``sum(diff^2) / (N * D)`` with ``D`` the number of elements
    per sample; ``'sum_per_sample'``: ``sum(diff^2) / N``.

    Args:
        diff (Tensor): ``(N, ...)`` differences, float32 or float64.
        reduction (str): one of :data:`REDUCTIONS`.

    Returns:
        Tensor: a scalar of ``diff``'s dtype.
    """
    check_reduction(reduction)
    sq = diff.pow(2)
    if reduction == 'mean':
        return sq.mean()
    return sq.sum() / diff.shape[0]


def upcast(x: Tensor) -> Tensor:
    """float16 / bfloat16 to float32 (squared errors overflow float16);
    other floating dtypes unchanged."""
    if x.dtype in (torch.float16, torch.bfloat16):
        return x.float()
    return x
