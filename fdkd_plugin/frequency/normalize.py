"""Paper Eq. 7 and Eq. 6: per-sample standardization and the signed log."""
import torch
from torch import Tensor

from .split import DimsType, _compute_dtype, _shift_and_scale

__all__ = ['standardize', 'signed_log', 'STD_EPS']

#: Default ``eps`` of :func:`standardize`: the L2 norm of a centred sample
#: below which it is no longer scaled to unit norm. It bounds the gradient of
#: ``Std`` by ``1 / eps``; see :func:`standardize` for why 1e-3.
STD_EPS = 1e-3


def standardize(x: Tensor,
                dims: DimsType = None,
                eps: float = STD_EPS,
                center: bool = True) -> Tensor:
    """Feature standardization of Eq. 7, per sample.

        Std(x) = (x - mean(x)) / max(||x - mean(x)||_2, eps)

    with mean and norm taken over ``dims`` (default: every dim but the batch
    dim 0, i.e. ``D`` of ``(N, D)`` and ``(C, H, W)`` of ``(N, C, H, W)``).
    Each standardized sample has zero mean and unit L2 norm. ``center=False``
    skips the mean subtraction, for features whose DC is already removed
    (:func:`frequency_split` with ``keep_dc=False``; the public reproduction
    only L2-normalizes them). float16 / bfloat16 are computed in float32 and
    cast back.

    ``eps`` (the paper gives none; ``F.normalize`` uses 1e-12, the first
    version here 1e-8) decides what a degenerate sample gives:

    - A constant sample (all-zero included) gives exactly 0, the limit of
      the formula, whatever its value: ``||0 - Std(t)||^2 = 1``, so
      :class:`~fdkd_plugin.models.StdMSELoss` of a constant student is
      ``1 / D`` per sample (float32 rounding used to make it ``2 / D``).
    - Samples with ``||x - mean|| >= eps`` get exactly Eq. 7, invariant to a
      positive scale and a shift of the sample; below ``eps`` the output is
      ``(x - mean) / eps``, of norm < 1, fading to 0 (a feature at ``1e-30``
      is treated as constant).
    - The Jacobian has norm ``<= 1 / eps`` everywhere (``1 / ||x - mean||``
      above ``eps``, ``1 / eps`` below), so a loss with upstream gradient
      ``g`` sends at most ``||g|| / eps`` into the feature. With the old
      1e-8 a zero or constant student got gradients up to 1.6e8 (inf in
      float16). ``eps = 1e-3``: the feature losses send at most
      ``4 * loss_weight / (N * D * 1e-3)`` into a sample, i.e. ``2e3`` for
      the worst shape ``N * D = 2``, well inside float16's 65504; real
      features are far above ``eps`` (a 512-d feature with a per-value
      spread of 0.05 has ``||x - mean|| = 1.1``), where it changes nothing.

    ``eps`` is applied as ``sqrt(max(sum (x - mean)^2, eps^2))``: equal to
    ``max(||x - mean||, eps)`` but with a zero, not NaN, gradient at an
    all-zero sample. (``sqrt(||.||^2 + eps^2)`` has the same ``1 / eps``
    bound but would shift every normal value.)

    The sum of squares is taken of ``(x - mid) * 2**-e`` (see the module
    notes), so it neither overflows (a float32 feature of ``1e19`` used to
    standardize to 0 with zero gradient) nor loses a constant's zero.

    Args:
        x (Tensor): ``(N, ...)`` features, at least 2-D.
        dims (int | tuple[int], optional): the feature dims. Defaults to None
            (all dims but 0).
        eps (float): lower bound on the norm. Defaults to :data:`STD_EPS`
            (1e-3).
        center (bool): subtract the mean first. Defaults to True.

    Returns:
        Tensor: ``x``'s shape and dtype.
    """
    if x.dim() < 2:
        raise ValueError(
            f'standardize expects (N, ...) features with a batch dim, got '
            f'shape {tuple(x.shape)}')
    if not eps > 0:
        raise ValueError(f'eps={eps!r} must be > 0')
    if dims is None:
        dims = tuple(range(1, x.dim()))
    xf = x.to(_compute_dtype(x))
    # y = (x - mid) * 2**-e with 2**e >= max(half-range, eps): |y| <= 1 and
    # Std(x) = yc / max(||yc||, eps * 2**-e) exactly (yc = y - mean(y)).
    mid, down, _ = _shift_and_scale(xf, dims, center, floor=eps)
    y = (xf - mid if center else xf) * down
    if center:
        y = y - y.mean(dim=dims, keepdim=True)
    # (eps * 2**-e)^2 >= 1/4 when the sample is within eps of constant;
    # for wider samples it may underflow, harmless as sum(yc^2) >= 1/4 then
    floor = (eps * down).square().clamp_min(torch.finfo(y.dtype).tiny)
    norm = y.square().sum(dim=dims, keepdim=True).maximum(floor).sqrt()
    return (y / norm).to(x.dtype)


class _SignedLog(torch.autograd.Function):
    """sign(x) * log1p(|x|) with the derivative 1 / (1 + |x|) everywhere.

    Autograd of the plain expression gives 0 at x = 0 (``sign`` and ``abs``
    have zero subgradient there) although the function has slope 1; this
    Function returns the true derivative. Its backward uses tracked ops, so
    double backward works too.
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.sign(x) * torch.log1p(x.abs())

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> Tensor:  # type: ignore
        x, = ctx.saved_tensors
        return grad_output / (1 + x.abs())


def signed_log(x: Tensor) -> Tensor:
    """Signed logarithm of Eq. 6: ``sign(x) * log(1 + |x|)``.

    Odd, monotonic, ``signed_log(±(e - 1)) = ±1``; derivative
    ``1 / (1 + |x|)`` in (0, 1], equal to 1 at ``x = 0``.

    Args:
        x (Tensor): any shape.

    Returns:
        Tensor: ``x``'s shape and dtype.
    """
    return _SignedLog.apply(x)
