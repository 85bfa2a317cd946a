"""Which rfft bins are low and which high: the 1-D band masks, the radial
mask of 2-D maps, and the cut-off checks (see :mod:`fdkd_plugin.frequency`
for the band definitions)."""
import functools
import math
from typing import NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

__all__ = [
    'BandMasks', 'band_masks_1d', 'radial_low_pass_mask', 'band_bins',
    'split_cutoff_range', 'SizeType'
]


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
