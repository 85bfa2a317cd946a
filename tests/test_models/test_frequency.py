"""Tests of the functional core: frequency_split, standardize, signed_log."""
import doctest
import math
import re

import pytest
import torch

from fdkd_plugin import frequency
from fdkd_plugin.frequency import (band_masks_1d, frequency_split,
                                   radial_low_pass_mask, signed_log,
                                   standardize)


# ---------------------------------------------------------------- split, 1-D
@pytest.mark.parametrize('d', [1, 2, 3, 7, 8, 512])
@pytest.mark.parametrize('cutoff', [0.05, 0.3, 0.5, 0.75, 0.99])
@pytest.mark.parametrize('keep_dc', [False, True])
def test_split_1d_reconstructs(d, cutoff, keep_dc):
    torch.manual_seed(0)
    x = torch.randn(3, d, dtype=torch.float64) + 2.0
    low, high, dc = frequency_split(x, cutoff, keep_dc=keep_dc)
    assert low.shape == high.shape == dc.shape == x.shape
    torch.testing.assert_close(low + high + dc, x, rtol=0, atol=1e-12)
    if keep_dc:
        assert torch.count_nonzero(dc) == 0
    else:
        torch.testing.assert_close(dc, x.mean(1, keepdim=True).expand_as(x))
        # DC removed: both bands are zero-mean.
        torch.testing.assert_close(
            low.mean(1), torch.zeros(3, dtype=x.dtype), rtol=0, atol=1e-12)
        torch.testing.assert_close(
            high.mean(1), torch.zeros(3, dtype=x.dtype), rtol=0, atol=1e-12)


def test_split_1d_hand_computed():
    # x = [1, 2, 3, 4]: rfft = [10, -2+2i, -2]; D//2 = 2, k = round(0.5*2)=1.
    # DC = 10/4 = 2.5; bin 2 (Nyquist) -> (-2/4) * (-1)^n; bin 1 ->
    # (2/4) * Re((-2+2i) i^n) = [-1, -1, 1, 1].
    x = torch.tensor([[1., 2., 3., 4.]])
    low, high, dc = frequency_split(x, cutoff=0.5)
    torch.testing.assert_close(dc, torch.tensor([[2.5, 2.5, 2.5, 2.5]]))
    torch.testing.assert_close(low, torch.tensor([[-1., -1., 1., 1.]]))
    torch.testing.assert_close(high, torch.tensor([[-.5, .5, -.5, .5]]))

    low, high, dc = frequency_split(x, cutoff=0.5, keep_dc=True)
    torch.testing.assert_close(low, torch.tensor([[1.5, 1.5, 3.5, 3.5]]))
    torch.testing.assert_close(high, torch.tensor([[-.5, .5, -.5, .5]]))
    torch.testing.assert_close(dc, torch.zeros(1, 4))


def test_band_masks_512_match_public_reproduction():
    low, high = band_masks_1d(512, 0.5)
    assert low.shape == high.shape == (257, )
    assert low.nonzero().flatten().tolist() == list(range(1, 129))
    assert high.nonzero().flatten().tolist() == list(range(129, 257))
    # The reproduction's filters: ones on [1:129] and on [129:].
    ref_low = torch.zeros(257, dtype=torch.bool)
    ref_low[1:129] = True
    ref_high = torch.zeros(257, dtype=torch.bool)
    ref_high[129:] = True
    assert torch.equal(low, ref_low) and torch.equal(high, ref_high)


def test_split_512_band_membership():
    # Cosines at bins 128 and 129: the first is low, the second high.
    n = torch.arange(512, dtype=torch.float64)
    c128 = torch.cos(2 * math.pi * 128 * n / 512)
    c129 = torch.cos(2 * math.pi * 129 * n / 512 + 0.3)
    low, high, dc = frequency_split((c128 + c129 + 5.0)[None], 0.5)
    torch.testing.assert_close(low[0], c128, rtol=0, atol=1e-10)
    torch.testing.assert_close(high[0], c129, rtol=0, atol=1e-10)
    torch.testing.assert_close(dc[0], torch.full_like(n, 5.0))


def test_band_masks_rounding_and_odd_d():
    # D = 7: m = 3, 0.5 * 3 = 1.5 rounds half up to k = 2 -> low 1..2, high 3.
    low, high = band_masks_1d(7, 0.5)
    assert low.tolist() == [False, True, True, False]
    assert high.tolist() == [False, False, False, True]
    # D = 10: m = 5, 0.5 * 5 = 2.5 -> k = 3 (half up, not banker's 2).
    low, _ = band_masks_1d(10, 0.5)
    assert low.nonzero().flatten().tolist() == [1, 2, 3]
    # D = 2: a single non-DC bin, all in the low band.
    low, high = band_masks_1d(2, 0.5)
    assert low.tolist() == [False, True] and high.tolist() == [False, False]


def test_masks_are_cached():
    assert band_masks_1d(64, 0.25) is band_masks_1d(64, 0.25)
    assert radial_low_pass_mask(8, 6, 0.4) is radial_low_pass_mask(8, 6, 0.4)


# ---------------------------------------------------------------- split, 2-D
def test_radial_mask_8x8_matches_docstring():
    mask = radial_low_pass_mask(8, 8, 0.5)
    assert mask.shape == (8, 5) and mask.dtype == torch.bool
    # rows 0,1,2,6,7 (fy = 0,1,2,-2,-1) x columns 0,1,2, without DC (0, 0).
    expected = {(r, c) for r in (0, 1, 2, 6, 7) for c in (0, 1, 2)} - {(0, 0)}
    assert {tuple(rc) for rc in mask.nonzero().tolist()} == expected
    assert len(expected) == 14
    # The docstring example (the printed mask) runs as a doctest.
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    tests = [
        t for module in (frequency.bands, frequency.split,
                         frequency.normalize)
        for t in finder.find(module) if t.examples
    ]
    assert any(t.name.endswith('radial_low_pass_mask') for t in tests)
    for t in tests:
        runner.run(t)
    assert runner.summarize(verbose=False).failed == 0


def test_radial_mask_symmetric_in_fy():
    for h, w in [(5, 6), (8, 8), (7, 9)]:
        mask = radial_low_pass_mask(h, w, 0.3)
        flipped = mask[(-torch.arange(h)) % h]  # row of fy -> row of -fy
        assert torch.equal(mask, flipped)


@pytest.mark.parametrize('hw', [(5, 6), (8, 8), (7, 9), (1, 4)])
@pytest.mark.parametrize('cutoff', [0.1, 0.5, 0.9])
@pytest.mark.parametrize('keep_dc', [False, True])
def test_split_2d_reconstructs(hw, cutoff, keep_dc):
    torch.manual_seed(0)
    x = torch.randn(2, 3, *hw, dtype=torch.float64) + 1.0
    low, high, dc = frequency_split(x, cutoff, keep_dc=keep_dc)
    assert low.shape == high.shape == dc.shape == x.shape
    torch.testing.assert_close(low + high + dc, x, rtol=0, atol=1e-12)
    if not keep_dc:
        # DC of a map = per-channel spatial mean.
        torch.testing.assert_close(dc,
                                   x.mean((2, 3), keepdim=True).expand_as(x))


def test_split_2d_hand_computed():
    # 8x8: 3 + cos(2 pi w / 8) + (-1)^h. The cosine sits at (fy, fx) = (0, 1),
    # rho = (1/4)/sqrt(2) = 0.18 <= 0.5 -> low; (-1)^h at fy = -4, fx = 0,
    # rho = 1/sqrt(2) = 0.71 > 0.5 -> high; 3 is DC.
    h = torch.arange(8, dtype=torch.float64)[:, None]
    w = torch.arange(8, dtype=torch.float64)[None, :]
    cos = torch.cos(2 * math.pi * w / 8).expand(8, 8)
    alt = ((-1.0)**h).expand(8, 8)
    x = (3 + cos + alt)[None, None]  # (1, 1, 8, 8)
    low, high, dc = frequency_split(x, 0.5)
    torch.testing.assert_close(low[0, 0], cos, rtol=0, atol=1e-12)
    torch.testing.assert_close(high[0, 0], alt, rtol=0, atol=1e-12)
    torch.testing.assert_close(dc[0, 0],
                               torch.full((8, 8), 3.0, dtype=torch.float64))


def test_split_map_along_channels():
    # dims=1 on a map: each pixel's C-vector is split as in the 1-D case.
    torch.manual_seed(0)
    x = torch.randn(2, 16, 3, 4)
    low, high, dc = frequency_split(x, 0.5, dims=1)
    flat = x.permute(0, 2, 3, 1).reshape(-1, 16)
    ref = frequency_split(flat, 0.5)
    back = low.permute(0, 2, 3, 1).reshape(-1, 16)
    torch.testing.assert_close(back, ref.low)
    torch.testing.assert_close(low + high + dc, x, rtol=0, atol=1e-5)


def test_split_gradient_is_projection():
    # The low band is an orthogonal projection P, so d<P x, a>/dx = P a = a
    # for a low-band a.
    torch.manual_seed(0)
    a = frequency_split(torch.randn(2, 32, dtype=torch.float64)).low
    x = torch.randn(2, 32, dtype=torch.float64, requires_grad=True)
    (frequency_split(x).low * a).sum().backward()
    torch.testing.assert_close(x.grad, a, rtol=0, atol=1e-12)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('shape', [(4, 64), (2, 3, 8, 8)])
def test_split_half_precision(dtype, shape):
    torch.manual_seed(0)
    x32 = torch.randn(*shape)
    x = x32.to(dtype)
    ref = frequency_split(x.float(), 0.5)
    out = frequency_split(x, 0.5)
    tol = 1e-2 if dtype == torch.float16 else 5e-2
    for got, want in zip(out, ref):
        assert got.dtype == dtype
        torch.testing.assert_close(got.float(), want, rtol=tol, atol=tol)


@pytest.mark.parametrize('shape', [(4, ), (2, 3, 4), (1, 2, 3, 4, 5)])
def test_split_bad_shape(shape):
    with pytest.raises(ValueError, match=re.escape(f'got shape {shape}')):
        frequency_split(torch.zeros(shape))


@pytest.mark.parametrize('cutoff', [0, 0.0, 1, 1.0, -0.1, 1.5])
def test_bad_cutoff(cutoff):
    match = rf'cutoff={cutoff!r} must be in \(0, 1\)'
    with pytest.raises(ValueError, match=match):
        frequency_split(torch.zeros(2, 8), cutoff)
    with pytest.raises(ValueError, match=match):
        band_masks_1d(8, cutoff)
    with pytest.raises(ValueError, match=match):
        radial_low_pass_mask(8, 8, cutoff)


def test_bad_dims_and_sizes():
    with pytest.raises(ValueError, match=r'dims=0 is not supported'):
        frequency_split(torch.zeros(2, 8), dims=0)
    with pytest.raises(ValueError, match=r'dims=\(1, 2\) is not supported'):
        frequency_split(torch.zeros(2, 3, 4, 5), dims=(1, 2))
    with pytest.raises(ValueError, match=r'd=0 must be a positive int'):
        band_masks_1d(0, 0.5)
    with pytest.raises(ValueError, match=r'w=0 must be a positive int'):
        radial_low_pass_mask(4, 0, 0.5)
    with pytest.raises(ValueError, match=r'floating point.*torch.int64'):
        frequency_split(torch.zeros(2, 8, dtype=torch.long))


# ---------------------------------------------------------------- standardize
def test_standardize_hand_values():
    out = standardize(torch.tensor([[1., 2., 3.], [3., 4., 5.]]))
    r = 1 / math.sqrt(2)
    torch.testing.assert_close(out, torch.tensor([[-r, 0., r], [-r, 0., r]]))
    # center=False: plain L2 normalization, [3, 4] / 5.
    out = standardize(torch.tensor([[3., 4.]]), center=False)
    torch.testing.assert_close(out, torch.tensor([[0.6, 0.8]]))


@pytest.mark.parametrize('shape', [(5, 17), (3, 4, 5, 6)])
def test_standardize_zero_mean_unit_norm(shape):
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64) * 7 + 3
    out = standardize(x)
    flat = out.flatten(1)
    torch.testing.assert_close(
        flat.mean(1), torch.zeros(shape[0], dtype=x.dtype))
    torch.testing.assert_close(
        flat.norm(dim=1), torch.ones(shape[0], dtype=x.dtype))
    # Per-channel dims on a map.
    if len(shape) == 4:
        out = standardize(x, dims=(2, 3))
        torch.testing.assert_close(
            out.norm(dim=(2, 3)), torch.ones(shape[:2], dtype=x.dtype))


def test_standardize_zero_sample_and_gradient():
    x = torch.tensor([[2., 2., 2.], [1., 2., 3.]], requires_grad=True)
    out = standardize(x)
    assert torch.equal(out[0], torch.zeros(3))
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_standardize_half_and_errors():
    x = torch.tensor([[1., 2., 3.]], dtype=torch.float16) * 1000
    out = standardize(x)  # sum of squares 1.4e7 overflows float16
    assert out.dtype == torch.float16
    r = 1 / math.sqrt(2)
    torch.testing.assert_close(
        out.float(), torch.tensor([[-r, 0., r]]), rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match=r'got shape \(3,\)'):
        standardize(torch.zeros(3))
    with pytest.raises(ValueError, match=r'eps=0 must be > 0'):
        standardize(torch.zeros(2, 3), eps=0)


# ---------------------------------------------------------------- signed_log
def test_signed_log_values():
    e1 = math.e - 1
    x = torch.tensor([-e1, 0., e1, 3., -3.])
    torch.testing.assert_close(
        signed_log(x), torch.tensor([-1., 0., 1.,
                                     math.log(4), -math.log(4)]))


def test_signed_log_gradient():
    x = torch.tensor([0., math.e - 1, -3.], requires_grad=True)
    signed_log(x).sum().backward()
    # d/dx = 1 / (1 + |x|): 1 at 0 (not autograd's 0 of sign * log1p|x|).
    torch.testing.assert_close(x.grad, torch.tensor([1., 1 / math.e, 0.25]))
    xd = torch.tensor([-2., -0.5, 0.3, 4.],
                      dtype=torch.float64,
                      requires_grad=True)
    assert torch.autograd.gradcheck(signed_log, (xd, ))
    assert torch.autograd.gradgradcheck(signed_log, (xd, ))


def test_signed_log_half():
    x = torch.tensor([-(math.e - 1), 0.5], dtype=torch.float16)
    out = signed_log(x)
    assert out.dtype == torch.float16
    torch.testing.assert_close(
        out.float(), torch.tensor([-1., math.log(1.5)]), rtol=1e-3, atol=1e-3)
