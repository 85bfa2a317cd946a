"""Log MSE: the high-frequency distillation loss of FDKD (Eq. 9, Eq. 5)."""
from torch import Tensor

from fdkd_plugin.frequency import signed_log
from fdkd_plugin.frequency import standardize as standardize_fn
from fdkd_plugin.registry import MODELS
from .std_mse_loss import StdMSELoss, check_standardizable
from .utils import check_same_shape, reduce_squared_error, upcast

__all__ = ['log_mse_loss', 'LogMSELoss']


def log_mse_loss(student_feat: Tensor,
                 teacher_feat: Tensor,
                 standardize: bool = True,
                 reduction: str = 'mean') -> Tensor:
    """MSE between signed logs of standardized features, paper Eq. 9.

        L = 1 / (N * D) * || sigma(Std(s)) - sigma(Std(t)) ||^2

    with ``sigma(x) = sign(x) * log(1 + |x|)`` (Eq. 6) and ``Std`` of Eq. 7
    per sample over all non-batch dims. ``standardize=False`` gives Eq. 5.
    ``reduction='sum_per_sample'`` divides by ``N`` only.

    Why it is "weak consistency": for one element with teacher value 0 and
    student value ``d >= 0`` the MSE gradient is ``2 d`` (unbounded) while
    this loss has gradient ``2 log(1 + d) / (1 + d) <= 2 / e`` (maximum at
    ``d = e - 1``, tending to 0 for large ``d``; paper Fig. 4). As ``sigma``
    is 1-Lipschitz, this loss never exceeds the MSE of the same inputs.

    Args:
        student_feat (Tensor): ``(N, D)`` or ``(N, C, H, W)``.
        teacher_feat (Tensor): same shape as ``student_feat``.
        standardize (bool): apply Eq. 7 before ``sigma``. Defaults to True.
        reduction (str): ``'mean'`` or ``'sum_per_sample'``. Defaults to
            ``'mean'``.

    Returns:
        Tensor: a scalar; float32 for float16 / bfloat16 inputs.
    """
    check_same_shape(student_feat, teacher_feat)
    if standardize:
        check_standardizable(student_feat, 'LogMSELoss')
    s, t = upcast(student_feat), upcast(teacher_feat)
    if standardize:
        s, t = standardize_fn(s), standardize_fn(t)
    return reduce_squared_error(signed_log(s) - signed_log(t), reduction)


@MODELS.register_module()
class LogMSELoss(StdMSELoss):
    """Log MSE loss for high-frequency features (paper Eq. 9).

        loss = loss_weight / (N * D) * || sigma(Std(s)) - sigma(Std(t)) ||^2

    ``sigma(x) = sign(x) * log(1 + |x|)`` (Eq. 6), ``Std`` per sample (Eq. 7).
    See :func:`log_mse_loss` for the gradient bound. With ``standardize=True``
    every element of ``Std(x)`` is in [-1, 1], and since ``sigma`` is
    1-Lipschitz the loss is at most the :class:`StdMSELoss` value of the same
    pair, hence at most ``4 / D`` with ``reduction='mean'``;
    ``'sum_per_sample'`` is ``D`` times larger.

    As ``sigma`` has slope <= 1, the gradient bound of :class:`StdMSELoss`
    holds here too: at most ``4 * loss_weight / (N * D * eps)`` per sample
    (``eps = 1e-3``) into the student feature for any finite input,
    constant and all-zero students included; ``(N, 1)`` features raise with
    ``standardize=True``.

    Arguments and ``forward`` are those of :class:`StdMSELoss`.

    Args:
        loss_weight (float): multiplier (>= 0). Defaults to 1.0.
        standardize (bool): apply Eq. 7 (Eq. 9) or not (Eq. 5). Defaults to
            True.
        reduction (str): ``'mean'`` (sum / (N * D)) or ``'sum_per_sample'``
            (sum / N). Defaults to ``'mean'``.
        teacher_detach (bool): detach ``teacher_feat`` so no gradient
            reaches the teacher. Set False only for a trainable teacher.
            Defaults to True.
    """

    loss_fn = staticmethod(log_mse_loss)
