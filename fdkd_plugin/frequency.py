"""The functional core of FDKD: frequency split, standardization, signed log.

Pure functions on tensors (no registry, no ``nn.Module``), used by the losses
and connectors of :mod:`fdkd_plugin.models`:

- :func:`frequency_split` is paper Eq. 1-3: DFT, a low-pass and a high-pass
  mask, inverse DFT. It returns ``low``, ``high`` and ``dc`` with
  ``low + high + dc == x``.
- :func:`standardize` is Eq. 7: ``(x - mean) / ||x - mean||_2`` per sample.
- :func:`signed_log` is Eq. 6: ``sign(x) * log(1 + |x|)``.

Two layouts are split:

- ``(N, D)`` pooled vectors: ``torch.fft.rfft`` along ``D`` (``D // 2 + 1``
  bins, bin 0 is DC). With cut-off ratio ``r`` and ``m = D // 2`` the low band
  is bins ``1..k`` with ``k = floor(r * m + 0.5)`` (``r * m`` rounded half
  up), the high band is bins ``k+1..m``. For ``D = 512, r = 0.5`` that is low
  = bins 1..128, high = bins 129..256, as in the public CREMA-D reproduction
  of the paper (zxn0710/re-FD-CMKD-main, ``utils/utils.py``).
- ``(N, C, H, W)`` maps: ``torch.fft.rfft2`` over ``(H, W)`` with a radial
  mask on the normalized frequency radius (see :func:`radial_low_pass_mask`).
  ``dims=1`` instead splits each pixel's ``C``-vector as in the 1-D case.
"""
import functools
import math
from typing import NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

__all__ = [
    'FrequencySplit', 'BandMasks', 'band_masks_1d', 'radial_low_pass_mask',
    'frequency_split', 'standardize', 'signed_log'
]

DimsType = Optional[Union[int, Tuple[int, ...]]]


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


class BandMasks(NamedTuple):
    """Boolean masks over the bins of an rfft; bin 0 (DC) is in neither.

    Attributes:
        low (Tensor): True on the low-band bins.
        high (Tensor): True on the high-band bins.
    """
    low: Tensor
    high: Tensor


def _check_cutoff(cutoff: float) -> None:
    if not isinstance(cutoff, (int, float)) or isinstance(cutoff, bool) \
            or not 0.0 < float(cutoff) < 1.0:
        raise ValueError(f'cutoff={cutoff!r} must be in (0, 1)')


def _low_band_end(d: int, cutoff: float) -> int:
    """Last low-band bin ``k = floor(cutoff * (d // 2) + 0.5)`` of a length-d
    rfft (``k = 0`` means an empty low band)."""
    return int(math.floor(cutoff * (d // 2) + 0.5))


@functools.lru_cache(maxsize=64)
def _band_masks_1d_cached(d: int, cutoff: float,
                          device: torch.device) -> BandMasks:
    k = _low_band_end(d, cutoff)
    bins = torch.arange(d // 2 + 1, device=device)  # (D//2+1,)
    low = (bins >= 1) & (bins <= k)
    high = bins > k
    return BandMasks(low, high)


def band_masks_1d(
        d: int,
        cutoff: float = 0.5,
        device: Optional[Union[str, torch.device]] = None) -> BandMasks:
    """Low and high masks over the ``d // 2 + 1`` bins of ``rfft(n=d)``.

    With ``m = d // 2`` and ``k = floor(cutoff * m + 0.5)`` (``cutoff * m``
    rounded half up): ``low`` is True on bins ``1..k``, ``high`` on bins
    ``k+1..m``; bin 0 (DC) is in neither. E.g. ``d = 512, cutoff = 0.5``: low
    = bins 1..128, high = bins 129..256; ``d = 4, cutoff = 0.5``: low = bin 1,
    high = bin 2. For very small ``d`` a band can be empty (``d = 2,
    cutoff = 0.5`` gives ``k = 1 = m``: no high bin).

    The masks are cached per ``(d, cutoff, device)``: treat them as
    read-only.

    Args:
        d (int): the signal length ``D`` (>= 1).
        cutoff (float): the ratio ``r`` in (0, 1). Defaults to 0.5.
        device (str | torch.device, optional): where to put the masks.
            Defaults to None (CPU).

    Returns:
        BandMasks: two bool tensors of shape ``(d // 2 + 1,)``.
    """
    if not isinstance(d, int) or d < 1:
        raise ValueError(f'd={d!r} must be a positive int')
    _check_cutoff(cutoff)
    return _band_masks_1d_cached(d, float(cutoff), torch.device(device
                                                                or 'cpu'))


@functools.lru_cache(maxsize=64)
def _radial_low_pass_mask_cached(h: int, w: int, cutoff: float,
                                 device: torch.device) -> Tensor:
    # Signed integer frequencies as torch.fft.fftfreq(n) * n orders them:
    # fy = 0, 1, .., -2, -1 along H; fx = 0..W//2 along the rfft axis W.
    fy = torch.fft.fftfreq(h, d=1.0 / h, dtype=torch.float64).round()
    fx = torch.fft.rfftfreq(w, d=1.0 / w, dtype=torch.float64).round()
    fy2 = (fy**2)[:, None]  # (H, 1)
    fx2 = (fx**2)[None, :]  # (1, W//2+1)
    # rho <= cutoff with rho^2 = ((2 fy / H)^2 + (2 fx / W)^2) / 2, multiplied
    # out to 2 (fy^2 W^2 + fx^2 H^2) <= cutoff^2 H^2 W^2 so that the left side
    # is an exact integer and bins on the circle land in the low band.
    lhs = 2.0 * (fy2 * w * w + fx2 * h * h)  # (H, W//2+1)
    low = (lhs > 0) & (lhs <= cutoff * cutoff * h * h * w * w)
    return low.to(device)


def radial_low_pass_mask(
        h: int,
        w: int,
        cutoff: float = 0.5,
        device: Optional[Union[str, torch.device]] = None) -> Tensor:
    """Radial low-pass mask over the bins of ``torch.fft.rfft2(s=(h, w))``.

    Bin ``(i, j)`` has the signed integer frequencies ``fy = i`` for
    ``i < ceil(h / 2)`` else ``i - h`` (``fftfreq`` order) and ``fx = j``
    (``0..w // 2``), and the normalized radius

        rho = sqrt((fy / (h / 2))^2 + (fx / (w / 2))^2) / sqrt(2)  in [0, 1]

    (1 at the corner Nyquist bin of an even map). The mask is True where
    ``0 < rho <= cutoff``: the DC bin (``rho = 0``) is excluded, bins on the
    circle ``rho = cutoff`` are included. The high band is every other bin
    but DC (``rho > cutoff``).

    For ``h = w = 8, cutoff = 0.5`` the condition is ``0 < fy^2 + fx^2 <= 8``:
    the 14 bins with ``|fy| <= 2, fx <= 2`` except DC, i.e. rows
    ``0, 1, 2, 6, 7`` (``fy = 0, 1, 2, -2, -1``) and columns ``0, 1, 2``:

    >>> radial_low_pass_mask(8, 8, 0.5).int()
    tensor([[0, 1, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0],
            [1, 1, 1, 0, 0],
            [1, 1, 1, 0, 0]], dtype=torch.int32)

    The mask is symmetric in ``fy -> -fy``, which ``irfft2`` needs for exact
    reconstruction. It is cached per ``(h, w, cutoff, device)``: treat it as
    read-only.

    Args:
        h (int): map height ``H`` (>= 1).
        w (int): map width ``W`` (>= 1).
        cutoff (float): the radius in (0, 1). Defaults to 0.5.
        device (str | torch.device, optional): where to put the mask.
            Defaults to None (CPU).

    Returns:
        Tensor: bool mask of shape ``(h, w // 2 + 1)``.
    """
    for name, value in (('h', h), ('w', w)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name}={value!r} must be a positive int')
    _check_cutoff(cutoff)
    return _radial_low_pass_mask_cached(h, w, float(cutoff),
                                        torch.device(device or 'cpu'))


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
    through all three outputs.

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

    if split_dims == (1, ):
        d = x.shape[1]
        masks = band_masks_1d(d, cutoff, device=x.device)
        view = [1] * x.dim()
        view[1] = -1
        m_low, m_high = (m.view(view) for m in masks)
        spec = torch.fft.rfft(xf, dim=1)  # (N, D//2+1[, H, W]) complex
        # both bands in one inverse transform: (2, N, D//2+1[, H, W])
        bands = torch.stack([spec * m_low, spec * m_high])
        low, high = torch.fft.irfft(bands, n=d, dim=2)  # (N, D[, H, W]) each
    else:
        h, w = x.shape[2], x.shape[3]
        m_low = radial_low_pass_mask(h, w, cutoff, device=x.device)
        m_dc = torch.zeros_like(m_low)
        m_dc[0, 0] = True
        m_high = ~(m_low | m_dc)
        spec = torch.fft.rfft2(xf, dim=(2, 3))  # (N, C, H, W//2+1) complex
        bands = torch.stack([spec * m_low, spec * m_high])  # (2, N, C, ...)
        low, high = torch.fft.irfft2(bands, s=(h, w), dim=(3, 4))

    # Bin 0 of an rfft is the sum of the signal: as a signal it is the mean.
    dc = xf.mean(dim=split_dims, keepdim=True).expand_as(xf)  # x's shape
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


def standardize(x: Tensor,
                dims: DimsType = None,
                eps: float = 1e-8,
                center: bool = True) -> Tensor:
    """Feature standardization of Eq. 7, per sample.

        Std(x) = (x - mean(x)) / max(||x - mean(x)||_2, eps)

    with mean and norm taken over ``dims`` (default: every dim but the batch
    dim 0, i.e. ``D`` of ``(N, D)`` and ``(C, H, W)`` of ``(N, C, H, W)``).
    Each standardized sample has zero mean and unit L2 norm (a zero sample
    stays zero). ``center=False`` skips the mean subtraction, for features
    whose DC is already removed (:func:`frequency_split` with
    ``keep_dc=False``; the public reproduction only L2-normalizes them).
    float16 / bfloat16 are computed in float32 and cast back.

    Args:
        x (Tensor): ``(N, ...)`` features, at least 2-D.
        dims (int | tuple[int], optional): the feature dims. Defaults to None
            (all dims but 0).
        eps (float): lower bound on the norm. Defaults to 1e-8.
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
    if center:
        xf = xf - xf.mean(dim=dims, keepdim=True)
    # sqrt(clamp(sum x^2, eps^2)) equals clamp(||x||, eps) but has a zero
    # (not NaN) gradient for an all-zero sample.
    norm = xf.pow(2).sum(dim=dims, keepdim=True).clamp_min(eps * eps).sqrt()
    return (xf / norm).to(x.dtype)


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
