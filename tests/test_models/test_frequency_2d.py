"""The 2-D radial frequency split on segmentation feature maps (FDKD with
``pool=False``): the mask follows its documented radius, and low + high + DC
rebuild a map exactly. Complements tests/test_models/test_frequency.py."""
import math

import numpy as np
import pytest
import torch

from fdkd_plugin.frequency import frequency_split, radial_low_pass_mask


def documented_rho(h: int, w: int) -> np.ndarray:
    """rho of every rfft2 bin, straight from the docstring of
    radial_low_pass_mask: fy = i for i < ceil(h / 2) else i - h; fx = j;
    rho = sqrt((fy / (h / 2))^2 + (fx / (w / 2))^2) / sqrt(2)."""
    rho = np.zeros((h, w // 2 + 1))
    for i in range(h):
        fy = i if i < math.ceil(h / 2) else i - h
        for j in range(w // 2 + 1):
            rho[i, j] = math.sqrt((fy / (h / 2))**2 +
                                  (j / (w / 2))**2) / math.sqrt(2)
    return rho


@pytest.mark.parametrize('hw', [(12, 16), (60, 80), (7, 9), (5, 6), (1, 8)])
@pytest.mark.parametrize('cutoff', [0.1, 0.25, 0.5, 0.75])
def test_mask_is_the_documented_radius(hw, cutoff):
    h, w = hw
    rho = documented_rho(h, w)
    want = (rho > 0) & (rho <= cutoff + 1e-12)
    got = radial_low_pass_mask(h, w, cutoff).numpy()
    np.testing.assert_array_equal(got, want)
    assert rho.min() == 0 and rho.max() <= 1 + 1e-12


def test_cutoff_boundary_and_corner():
    # 8x8, cutoff 0.5: fy^2 + fx^2 <= 8; (2, 2) lies on the circle (rho is
    # exactly 0.5) and is low, (2, 3) is outside
    mask = radial_low_pass_mask(8, 8, 0.5)
    assert mask[2, 2] and mask[6, 2]  # fy = 2 and fy = -2
    assert not mask[2, 3] and not mask[3, 0]
    assert not mask[0, 0]  # DC is in neither band
    # rho = 1 only at the corner Nyquist bin of an even map: just below 1,
    # every other non-DC bin is low
    mask = radial_low_pass_mask(12, 16, 0.999)
    high = ~mask
    high[0, 0] = False
    assert high.nonzero().tolist() == [[6, 8]]
    # the low band grows with the cut-off (nested masks)
    masks = [radial_low_pass_mask(12, 16, c) for c in (0.1, 0.3, 0.5, 0.9)]
    for small, large in zip(masks, masks[1:]):
        assert (small <= large).all() and large.sum() > small.sum()


def plane_wave(h: int, w: int, fy: int, fx: int) -> torch.Tensor:
    y = torch.arange(h, dtype=torch.float64)[:, None]
    x = torch.arange(w, dtype=torch.float64)[None, :]
    return torch.cos(2 * math.pi * (fy * y / h + fx * x / w))


def test_band_of_a_wave_follows_the_cutoff():
    # (fy, fx) = (1, 2) on 12x16: rho = sqrt((1/6)^2 + (2/8)^2) / sqrt(2)
    wave = plane_wave(12, 16, 1, 2)
    rho = math.sqrt((1 / 6)**2 + (2 / 8)**2) / math.sqrt(2)
    assert rho == pytest.approx(0.2125, abs=1e-4)
    x = (2.0 + wave)[None, None]  # (1, 1, 12, 16), DC 2
    low, high, dc = frequency_split(x, cutoff=0.25)
    torch.testing.assert_close(low[0, 0], wave, rtol=0, atol=1e-12)
    assert high.abs().max() < 1e-12
    torch.testing.assert_close(dc, torch.full_like(x, 2.0))
    low, high, dc = frequency_split(x, cutoff=0.2)
    torch.testing.assert_close(high[0, 0], wave, rtol=0, atol=1e-12)
    assert low.abs().max() < 1e-12


@pytest.mark.parametrize('shape,dtype,atol', [
    ((2, 128, 12, 16), torch.float32, 1e-5),  # decoder map of a 48x64 input
    ((1, 8, 15, 20), torch.float64, 1e-12),
    ((3, 4, 7, 9), torch.float64, 1e-12),
])
def test_decoder_map_reconstructs_exactly(shape, dtype, atol):
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=dtype) * 3 + 1
    low, high, dc = frequency_split(x, cutoff=0.5)
    torch.testing.assert_close(low + high + dc, x, rtol=0, atol=atol)
    torch.testing.assert_close(
        dc, x.mean((2, 3), keepdim=True).expand_as(x), rtol=0, atol=atol)
    # the bands are orthogonal projections: energy splits, no cross term
    x64, low64, high64 = (t.double() for t in (x - dc, low, high))
    energy = x64.pow(2).sum((2, 3))
    torch.testing.assert_close(
        low64.pow(2).sum((2, 3)) + high64.pow(2).sum((2, 3)), energy,
        rtol=1e-5, atol=1e-6)
    assert (low64 * high64).sum((2, 3)).abs().max() < 1e-4 * energy.max()
    # idempotent: the low band has no high part and vice versa
    again = frequency_split(low, cutoff=0.5)
    torch.testing.assert_close(again.low, low, rtol=0, atol=atol * 10)
    assert again.high.abs().max() < atol * 10
    assert frequency_split(high, cutoff=0.5).low.abs().max() < atol * 10


def test_pair_split_equals_separate_splits():
    # the distiller splits cat([student, teacher]) in one transform
    torch.manual_seed(1)
    s, t = torch.randn(2, 16, 12, 16), torch.randn(2, 16, 12, 16)
    both = frequency_split(torch.cat([s, t]), cutoff=0.5)
    for part, alone in zip(both, frequency_split(s, cutoff=0.5)):
        torch.testing.assert_close(part[:2], alone)
    for part, alone in zip(both, frequency_split(t, cutoff=0.5)):
        torch.testing.assert_close(part[2:], alone)
