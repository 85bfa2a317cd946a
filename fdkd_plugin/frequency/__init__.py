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
from .bands import (BandMasks, band_bins, band_masks_1d, radial_low_pass_mask,
                    split_cutoff_range)
from .normalize import STD_EPS, signed_log, standardize
from .split import FrequencySplit, frequency_split

__all__ = [
    'FrequencySplit', 'BandMasks', 'band_masks_1d', 'radial_low_pass_mask',
    'band_bins', 'split_cutoff_range', 'frequency_split', 'standardize',
    'signed_log', 'STD_EPS'
]
