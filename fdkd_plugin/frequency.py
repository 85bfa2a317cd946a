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

Numerics (issue 13, ``tests/test_models/test_numerics.py``): both
:func:`frequency_split` and :func:`standardize` first move each sample to
``(x - mid) * 2**-e`` with ``mid`` the midrange ``(max + min) / 2`` of the
sample and ``2**e`` the power of two just above its half-range (both
constants, outside autograd). In exact arithmetic the result does not
depend on ``mid`` (the bands exclude DC, Eq. 7 subtracts the mean), and
scaling by a power of two is exact in floating point, so normal inputs give
the plain formula's numbers up to rounding (float32: within 2e-6 for
unit-variance features, and closer to a float64 reference when the feature
has a large mean). But a constant sample becomes exactly zero (no rounding
residue of its mean or its DFT survives to be standardized into a unit
vector), and no sum or square can overflow or underflow for any finite
float32 input (the plain variance overflows at ``|x| ~ 1e18`` with
``D = 512``). Both are also exactly equivariant to scaling by powers of two.
"""
import functools
import math
from typing import NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

__all__ = [
    'FrequencySplit', 'BandMasks', 'band_masks_1d', 'radial_low_pass_mask',
    'band_bins', 'split_cutoff_range', 'frequency_split', 'standardize',
    'signed_log', 'STD_EPS'
]

#: Default ``eps`` of :func:`standardize`: the L2 norm of a centred sample
#: below which it is no longer scaled to unit norm. It bounds the gradient of
#: ``Std`` by ``1 / eps``; see :func:`standardize` for why 1e-3.
STD_EPS = 1e-3

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


SizeType = Union[int, Tuple[int, int]]


def _rfft_sizes(size: SizeType) -> Tuple[int, ...]:
    sizes = (size, ) if isinstance(size, int) else tuple(size)
    if len(sizes) not in (1, 2) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1
            for v in sizes):
        raise ValueError(f'size={size!r} must be a positive int D or a pair '
                         '(H, W) of positive ints')
    return sizes


def band_bins(size: SizeType, cutoff: float = 0.5) -> Tuple[int, int]:
    """How many rfft bins the low and the high band of a split hold.

    ``size`` is ``D`` for the 1-D split of ``(N, D)`` vectors (bins of
    :func:`band_masks_1d`) or ``(H, W)`` for the radial split of maps (bins
    of ``rfft2``, see :func:`radial_low_pass_mask`). A band with 0 bins is
    identically zero: for ``D <= 3`` one band always is (``D = 1`` is pure
    DC; ``D = 2, 3`` have the single bin 1), for larger ``D`` an extreme
    ``cutoff`` empties one (``D = 4, cutoff = 0.75``: low bins 1..2, no high
    bin). :func:`frequency_split` returns such a band as zeros (it is
    well-defined); :class:`~fdkd_plugin.models.FreqDecoupledDistiller`
    refuses to distill it.

    >>> band_bins(512, 0.5), band_bins(2, 0.5), band_bins((8, 8), 0.5)
    ((128, 128), (1, 0), (14, 25))

    Args:
        size (int | tuple[int, int]): ``D`` or ``(H, W)``.
        cutoff (float): the cut-off ratio in (0, 1). Defaults to 0.5.

    Returns:
        tuple[int, int]: ``(low_bins, high_bins)``.
    """
    sizes = _rfft_sizes(size)
    if len(sizes) == 1:
        low, high = band_masks_1d(sizes[0], cutoff)
        return int(low.sum()), int(high.sum())
    h, w = sizes
    low = int(radial_low_pass_mask(h, w, cutoff).sum())
    return low, h * (w // 2 + 1) - 1 - low


def split_cutoff_range(size: SizeType) -> Optional[Tuple[float, float]]:
    """The cut-offs ``[lo, hi)`` that leave both bands non-empty (see
    :func:`band_bins`), or None if no cut-off does (``D <= 3``, a 1x1 map).

    ``D``: with ``m = D // 2``, ``lo = 0.5 / m`` and ``hi = 1 - 0.5 / m``.
    ``(H, W)``: ``lo`` is the smallest and ``hi`` the largest non-zero
    normalized radius of the rfft2 bins.

    >>> split_cutoff_range(512), split_cutoff_range(3)
    ((0.001953125, 0.998046875), None)
    """
    sizes = _rfft_sizes(size)
    if len(sizes) == 1:
        m = sizes[0] // 2
        return (0.5 / m, 1 - 0.5 / m) if m >= 2 else None
    h, w = sizes
    fy = torch.fft.fftfreq(h, d=1.0 / h, dtype=torch.float64).round()
    fx = torch.fft.rfftfreq(w, d=1.0 / w, dtype=torch.float64).round()
    # the radius as radial_low_pass_mask compares it: sqrt(lhs) / (h w)
    rho = (2.0 * ((fy**2)[:, None] * w * w +
                  (fx**2)[None, :] * h * h)).sqrt() / (h * w)
    rho = rho[rho > 0]
    if rho.numel() < 2 or rho.min() == rho.max():
        return None
    return float(rho.min()), float(rho.max())


# bit layout of the compute dtypes: an exact 2**e from its exponent bits
_POW2_LAYOUT = {
    torch.float32: (torch.int32, 23, 127),
    torch.float64: (torch.int64, 52, 1023),
}


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
