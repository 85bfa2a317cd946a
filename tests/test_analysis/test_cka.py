"""Linear CKA (paper Appendix B) and its band version."""
import numpy as np
import pytest
import torch

from fdkd_plugin.analysis import band_cka, linear_cka, split_bands
from fdkd_plugin.frequency import frequency_split


def hsic_cka_numpy(x: np.ndarray, y: np.ndarray) -> float:
    """Appendix B written out: Gram matrices, centring matrix H,
    HSIC = tr(K H L H) / (n - 1)^2, CKA = HSIC(K, L) / sqrt(HSIC(K, K)
    HSIC(L, L))."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T

    def hsic(a, b):
        return np.trace(a @ h @ b @ h) / (n - 1)**2

    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


def features(n=40, d1=12, d2=7, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d1, generator=gen, dtype=torch.float64)
    # y shares a linear part with x plus noise: a CKA well inside (0, 1)
    y = x[:, :d2] @ torch.randn(d2, d2, generator=gen, dtype=torch.float64) \
        + 0.7 * torch.randn(n, d2, generator=gen, dtype=torch.float64)
    return x, y


def random_orthogonal(d, seed):
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(
        torch.randn(d, d, generator=gen, dtype=torch.float64))
    return q


# (n, d1, d2): wide features take the feature-space form, many samples of
# narrow features the Gram form; both must give Appendix B's number
@pytest.mark.parametrize('shape', [(40, 12, 7), (6, 30, 25)])
def test_matches_appendix_b_gram_formula(shape):
    x, y = features(*shape)
    expected = hsic_cka_numpy(x.numpy(), y.numpy())
    assert 0.05 < expected < 0.95
    assert linear_cka(x, y).item() == pytest.approx(expected, rel=1e-10)
    # float32 inputs are computed in float64
    assert linear_cka(x.float(), y.float()).item() == pytest.approx(
        expected, rel=1e-5)


def test_identical_features_score_one_and_symmetry():
    x, y = features()
    assert linear_cka(x, x).item() == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, y).item() == pytest.approx(
        linear_cka(y, x).item(), rel=1e-12)


def test_invariant_to_orthogonal_transform_and_isotropic_scaling():
    x, y = features()
    ref = linear_cka(x, y).item()
    q = random_orthogonal(x.shape[1], seed=3)
    assert linear_cka(x @ q, y).item() == pytest.approx(ref, rel=1e-10)
    assert linear_cka(x, 25.0 * y).item() == pytest.approx(ref, rel=1e-10)
    # a translation of all samples is removed by the centring
    assert linear_cka(x + 4.0, y).item() == pytest.approx(ref, rel=1e-10)
    # not invariant to an arbitrary (anisotropic) linear map
    scale = torch.linspace(0.1, 10, x.shape[1], dtype=torch.float64)
    assert abs(linear_cka(x * scale, y).item() - ref) > 1e-3


def test_low_for_independent_features():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 8, generator=gen)
    y = torch.randn(2000, 8, generator=gen)
    assert linear_cka(x, y).item() < 0.02
    # ... and exactly 0 for orthogonal centred columns
    a = torch.tensor([[1., 0.], [-1., 0.], [0., 1.], [0., -1.]])
    b = torch.tensor([[0.], [0.], [1.], [-1.]])
    c = torch.tensor([[1.], [-1.], [0.], [0.]])
    assert linear_cka(b, c).item() == pytest.approx(0.0, abs=1e-15)
    assert 0 < linear_cka(a, b).item() < 1


def test_invalid_inputs_and_constant_features():
    x, y = features()
    with pytest.raises(ValueError, match='same samples'):
        linear_cka(x, y[:-1])
    with pytest.raises(ValueError, match=r'x must be an \(n, D\) tensor'):
        linear_cka(x[0], y)
    with pytest.raises(ValueError, match='n >= 2'):
        linear_cka(x[:1], y[:1])
    with pytest.raises(ValueError, match='floating point'):
        linear_cka(x.long(), y)
    assert torch.isnan(linear_cka(torch.ones(5, 3), torch.randn(5, 2)))


def test_band_cka_scores_the_frequency_split():
    x, y = features(d1=16, d2=16)
    scores = band_cka(x, y)
    assert list(scores) == ['raw', 'low', 'high']
    assert scores['raw'] == pytest.approx(linear_cka(x, y).item())
    parts_x, parts_y = frequency_split(x), frequency_split(y)
    assert scores['low'] == pytest.approx(
        linear_cka(parts_x.low, parts_y.low).item())
    assert scores['high'] == pytest.approx(
        linear_cka(parts_x.high, parts_y.high).item())
    # a network compared with itself: every band scores 1
    assert band_cka(x, x) == pytest.approx(dict(raw=1, low=1, high=1))
    # the cut-off moves bins between the bands
    assert band_cka(x, y, cutoff=0.25)['low'] != pytest.approx(scores['low'])


def test_split_bands_reconstructs_and_keep_dc():
    x, _ = features(d1=16)
    bands = split_bands(x)
    mean = x.mean(dim=1, keepdim=True)
    torch.testing.assert_close(bands['low'] + bands['high'] + mean, x)
    torch.testing.assert_close(bands['low'].mean(1),
                               torch.zeros(len(x), dtype=x.dtype))
    kept = split_bands(x, keep_dc=True)
    torch.testing.assert_close(kept['low'] + kept['high'], x)


def test_paired_cosine_compares_sample_i_with_sample_i():
    from fdkd_plugin.analysis import band_cosine, paired_cosine
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(50, 16, generator=gen)
    assert paired_cosine(x, x).item() == pytest.approx(1.0)
    assert paired_cosine(x, -3 * x).item() == pytest.approx(-1.0)
    # unlike CKA, a rotation of one side breaks the per-sample match
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=gen))
    assert abs(paired_cosine(x, x @ q).item()) < 0.3
    assert linear_cka(x, x @ q).item() == pytest.approx(1.0)
    # a zero row counts as 0
    y = x.clone()
    y[0] = 0
    expect = (torch.nn.functional.cosine_similarity(x[1:], y[1:]).sum() /
              50).item()
    assert paired_cosine(x, y).item() == pytest.approx(expect)
    with pytest.raises(ValueError, match='needs one width: x has D=16, y '
                       'has D=8'):
        paired_cosine(x, x[:, :8])
    scores = band_cosine(x, 2 * x)
    assert scores == pytest.approx(dict(raw=1.0, low=1.0, high=1.0))
