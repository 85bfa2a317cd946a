"""Paper Eq. 1-3: the DFT of a feature, its low and high bands, back to
the feature domain (see :mod:`fdkd_plugin.frequency` for the numerics)."""
import math
from typing import NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

from .bands import _check_cutoff, band_masks_1d, radial_low_pass_mask

__all__ = ['FrequencySplit', 'frequency_split', 'DimsType']

DimsType = Optional[Union[int, Tuple[int, ...]]]
# bit layout of the compute dtypes: an exact 2**e from its exponent bits
_POW2_LAYOUT = {
    torch.float32: (torch.int32, 23, 127),
    torch.float64: (torch.int64, 52, 1023),
}


class FrequencySplit(NamedTuple):
    """The three parts of a feature returned by :func:`frequency_split`.

    All three have the input's shape and dtype and ``low + high + dc == x``.

    Attributes:
        low (Tensor): the low band (bins ``1..k``; also bin 0 if
            ``keep_dc=True``).
        high (Tensor): the high band (bins ``k+1..D//2``).
        dc (Tensor): the DC part, i.e. the mean over the split dims broadcast
            to the input shape; zeros if ``keep_dc=True``.
    """
    low: Tensor
    high: Tensor
    dc: Tensor


def _exact_pow2(e: Tensor, dtype: torch.dtype) -> Tensor:
    """``2.0 ** e`` of integer ``e`` (a normal exponent of ``dtype``), built
    from its bits so that it is exact on every device."""
    int_dtype, mantissa_bits, bias = _POW2_LAYOUT[dtype]
    return ((e.to(int_dtype) + bias) << mantissa_bits).view(dtype)


def _shift_and_scale(xf: Tensor,
                     dims: Union[int, Tuple[int, ...]],
                     center: bool,
                     floor: float = 0.0
                     ) -> Tuple[Optional[Tensor], Tensor, Tensor]:
    """Per sample (over ``dims``): ``mid``, ``2**-e`` and ``2**e``.

    ``mid = max / 2 + min / 2`` (None unless ``center``) and ``2**e`` the
    smallest power of two ``>= max(half-range, floor)`` (``max |x|`` when not
    centring), so ``|(x - mid) * 2**-e| <= 1``. ``e`` is clamped so that both
    powers are normal numbers of the dtype. Computed without autograd: every
    caller's result is independent of ``mid`` and ``e`` in exact arithmetic.
    """
    with torch.no_grad():
        if center:
            hi = xf.amax(dim=dims, keepdim=True)
            lo = xf.amin(dim=dims, keepdim=True)
            mid = hi * 0.5 + lo * 0.5  # no overflow, exact for a constant
            half = hi * 0.5 - lo * 0.5
        else:
            mid = None
            half = xf.abs().amax(dim=dims, keepdim=True)
        if floor > 0:
            half = half.clamp_min(floor)
        info = torch.finfo(xf.dtype)
        e_min = math.frexp(info.tiny)[1]  # -125 for float32
        e_max = math.frexp(info.max)[1] - 2  # 126
        e = torch.frexp(half).exponent.clamp(e_min, e_max)  # half <= 2**e
        return mid, _exact_pow2(-e, xf.dtype), _exact_pow2(e, xf.dtype)


def _resolve_split_dims(x: Tensor, dims: DimsType) -> Tuple[int, ...]:
    """Positive split dims for a 2-D or 4-D ``x``: ``(1,)`` or ``(2, 3)``."""
    if x.dim() not in (2, 4):
        raise ValueError(
            f'frequency_split expects (N, D) vectors or (N, C, H, W) maps, '
            f'got shape {tuple(x.shape)}')
    if dims is None:
        return (1, ) if x.dim() == 2 else (2, 3)
    raw = (dims, ) if isinstance(dims, int) else tuple(dims)
    resolved = tuple(sorted(d % x.dim() for d in raw))
    allowed = [(1, )] if x.dim() == 2 else [(1, ), (2, 3)]
    if resolved not in allowed:
        raise ValueError(
            f'dims={dims!r} is not supported for shape {tuple(x.shape)}: use '
            f'None, ' + ' or '.join(str(a) for a in allowed))
    return resolved


def _compute_dtype(x: Tensor) -> torch.dtype:
    """float64 stays float64; float16 / bfloat16 / float32 compute in float32
    (the FFT has no CPU half kernels and half sums overflow)."""
    if not x.is_floating_point():
        raise ValueError(f'expected a floating point tensor, got {x.dtype}')
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def frequency_split(x: Tensor,
                    cutoff: float = 0.5,
                    keep_dc: bool = False,
                    dims: DimsType = None) -> FrequencySplit:
    """Split features into low, high and DC frequency parts (Eq. 1-3).

    ``(N, D)`` vectors (or ``dims=1`` on maps): ``X = rfft(x, dim=1)`` has
    ``D // 2 + 1`` bins; ``low = irfft(X * M_low, n=D)`` with ``M_low`` on
    bins ``1..k``, ``k = floor(cutoff * (D // 2) + 0.5)``; ``high`` likewise
    on bins ``k+1..D//2`` (see :func:`band_masks_1d`). ``D = 512,
    cutoff = 0.5``: low = bins 1..128, high = bins 129..256.

    ``(N, C, H, W)`` maps (default ``dims``): ``X = rfft2(x)`` over
    ``(H, W)``, shape ``(N, C, H, W // 2 + 1)``; the low band is
    ``0 < rho <= cutoff`` and the high band ``rho > cutoff`` of the
    normalized radius defined in :func:`radial_low_pass_mask`; back with
    ``irfft2(s=(H, W))``.

    Bin 0 is DC, i.e. the mean over the split dims: the per-sample mean of a
    vector, the per-channel spatial mean of a map. ``keep_dc=False`` (default,
    the paper's "DC filter" of Eq. 7 = mean subtraction) returns it in ``dc``
    broadcast to ``x.shape`` and leaves ``low`` and ``high`` zero-mean;
    ``keep_dc=True`` puts it into ``low`` and returns ``dc`` as zeros. In both
    cases ``low + high + dc == x`` up to float rounding.

    float16 and bfloat16 inputs are transformed in float32 and the results
    cast back to the input dtype, except under ``torch.autocast`` (AMP),
    where they stay float32; float64 stays float64. Gradients flow
    through all three outputs. A band can peak above the input: by at most
    the Lebesgue constant of its projection times ``max |x - mid|`` (1.7
    for ``D = 8``, 3.2 for ``D = 512``, 3.6 for ``D = 2048``), so outside
    autocast a float16 feature beyond ``65504 / 3.6 ~ 1.8e4`` may give an
    inf band; float32, bfloat16 and autocast have the headroom.

    Args:
        x (Tensor): ``(N, D)`` pooled features or ``(N, C, H, W)`` maps.
        cutoff (float): cut-off ratio in (0, 1). Defaults to 0.5.
        keep_dc (bool): put the DC bin into ``low``. Defaults to False.
        dims (int | tuple[int], optional): the dims to transform. None
            (default) means ``1`` for ``(N, D)`` and ``(2, 3)`` (radial 2-D)
            for ``(N, C, H, W)``; ``1`` on a map splits each pixel's channel
            vector.

    Returns:
        FrequencySplit: ``(low, high, dc)``, each of ``x``'s shape and dtype.
    """
    _check_cutoff(cutoff)
    split_dims = _resolve_split_dims(x, dims)
    xf = x.to(_compute_dtype(x))
    # Transform y = (x - mid) * 2**-e, |y| <= 1, and scale the bands back by
    # 2**e: exact, as mid only moves the DC bin. A constant sample gives
    # exactly zero bands (not DFT rounding noise), and no bin overflows.
    mid, down, up = _shift_and_scale(xf, split_dims, center=True)
    y = (xf - mid) * down

    if split_dims == (1, ):
        d = x.shape[1]
        masks = band_masks_1d(d, cutoff, device=x.device)
        view = [1] * x.dim()
        view[1] = -1
        m_low, m_high = (m.view(view) for m in masks)
        spec = torch.fft.rfft(y, dim=1)  # (N, D//2+1[, H, W]) complex
        # both bands in one inverse transform: (2, N, D//2+1[, H, W])
        bands = torch.stack([spec * m_low, spec * m_high])
        low, high = torch.fft.irfft(bands, n=d, dim=2)  # (N, D[, H, W]) each
    else:
        h, w = x.shape[2], x.shape[3]
        m_low = radial_low_pass_mask(h, w, cutoff, device=x.device)
        m_dc = torch.zeros_like(m_low)
        m_dc[0, 0] = True
        m_high = ~(m_low | m_dc)
        spec = torch.fft.rfft2(y, dim=(2, 3))  # (N, C, H, W//2+1) complex
        bands = torch.stack([spec * m_low, spec * m_high])  # (2, N, C, ...)
        low, high = torch.fft.irfft2(bands, s=(h, w), dim=(3, 4))

    low, high = low * up, high * up
    # Bin 0 of an rfft is the sum of the signal: as a signal it is the mean.
    dc = (y.mean(dim=split_dims, keepdim=True) * up + mid).expand_as(xf)
    if keep_dc:
        low = low + dc
        dc = torch.zeros_like(xf)
    else:
        dc = dc.contiguous()
    out = x.dtype
    if out in (torch.float16, torch.bfloat16) and torch.is_autocast_enabled(
            x.device.type):
        # under AMP the losses that follow must not see the bands rounded
        # back to half precision (their reconstruction error is ~2e-3)
        out = torch.float32
    return FrequencySplit(low.to(out), high.to(out), dc.to(out))
