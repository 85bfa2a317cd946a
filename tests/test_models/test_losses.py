"""Tests of StdMSELoss (Eq. 8 / Eq. 4) and LogMSELoss (Eq. 9 / Eq. 5)."""
import math
import re

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS as MMENGINE_MODELS

from fdkd_plugin.models.losses import (LogMSELoss, StdMSELoss, log_mse_loss,
                                       std_mse_loss)
from fdkd_plugin.registry import MODELS

LOSSES = [StdMSELoss, LogMSELoss]
R = 1 / math.sqrt(2)
LOG_R = math.log1p(R)  # sigma(1/sqrt(2))


def _pair():
    # Std([1,2,3]) = [-r, 0, r], Std([3,2,1]) = [r, 0, -r], r = 1/sqrt(2).
    return torch.tensor([[1., 2., 3.]]), torch.tensor([[3., 2., 1.]])


@pytest.mark.parametrize('loss_cls', LOSSES)
def test_identical_and_affine_inputs_give_zero(loss_cls):
    torch.manual_seed(0)
    x = torch.randn(4, 32)
    loss = loss_cls()
    assert loss(x, x.clone()).item() == 0.0
    # Std is invariant to a positive scale and a shift (Eq. 7).
    assert loss(3 * x + 5, x).item() == pytest.approx(0.0, abs=1e-10)
    # Not so without standardization.
    assert loss_cls(standardize=False)(3 * x + 5, x).item() > 1.0


def test_std_mse_hand_value():
    s, t = _pair()
    # diff = [-2r, 0, 2r], squares [2, 0, 2]: mean 4/3 (the 4/D maximum).
    assert StdMSELoss()(s, t).item() == pytest.approx(4 / 3)
    assert StdMSELoss(reduction='sum_per_sample')(s, t).item() == \
        pytest.approx(4.0)


def test_std_mse_is_two_minus_two_pearson():
    # Per sample ||Std(s) - Std(t)||^2 = 2 - 2 r (r: Pearson correlation).
    torch.manual_seed(0)
    s, t = torch.randn(
        3, 50, dtype=torch.float64), torch.randn(
            3, 50, dtype=torch.float64)
    r = torch.stack(
        [torch.corrcoef(torch.stack([a, b]))[0, 1] for a, b in zip(s, t)])
    torch.testing.assert_close(
        StdMSELoss(reduction='sum_per_sample')(s, t), (2 - 2 * r).mean())


def test_log_mse_hand_value():
    s, t = _pair()
    # sigma diffs [-2 L, 0, 2 L], L = log(1 + 1/sqrt(2)): mean 8 L^2 / 3.
    assert LogMSELoss()(s, t).item() == pytest.approx(8 * LOG_R**2 / 3)
    assert LogMSELoss(reduction='sum_per_sample')(s, t).item() == \
        pytest.approx(8 * LOG_R**2)


def test_unstandardized_equals_eq4_and_eq5():
    torch.manual_seed(0)
    s, t = torch.randn(3, 10) * 4, torch.randn(3, 10) * 4
    torch.testing.assert_close(
        StdMSELoss(standardize=False)(s, t), F.mse_loss(s, t))

    def sigma(x):  # Eq. 6 as written in the paper, piecewise
        return torch.where(x >= 0, torch.log(1 + x.clamp_min(0)),
                           -torch.log(1 - x.clamp_max(0)))

    torch.testing.assert_close(
        LogMSELoss(standardize=False)(s, t), F.mse_loss(sigma(s), sigma(t)))
    # By hand: sigma(e - 1) - sigma(0) = 1, sigma(0) - sigma(1 - e) = 1.
    e1 = math.e - 1
    got = LogMSELoss(standardize=False)(torch.tensor([[e1, 0.]]),
                                        torch.tensor([[0., -e1]]))
    assert got.item() == pytest.approx(1.0)


def test_maps_standardize_per_sample():
    torch.manual_seed(0)
    s, t = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    for loss_cls in LOSSES:
        torch.testing.assert_close(loss_cls()(s, t),
                                   loss_cls()(s.flatten(1), t.flatten(1)))
        # 'sum_per_sample' is D = C * H * W = 60 times 'mean'.
        torch.testing.assert_close(
            loss_cls(reduction='sum_per_sample')(s, t), 60 * loss_cls()(s, t))


@pytest.mark.parametrize('loss_cls', LOSSES)
def test_loss_weight_and_reduction(loss_cls):
    torch.manual_seed(0)
    s, t = torch.randn(4, 16), torch.randn(4, 16)
    base = loss_cls()(s, t)
    torch.testing.assert_close(loss_cls(loss_weight=2.5)(s, t), 2.5 * base)
    torch.testing.assert_close(
        loss_cls(reduction='sum_per_sample')(s, t), 16 * base)
    assert loss_cls(loss_weight=0)(s, t).item() == 0.0


def test_log_mse_bounded_by_std_mse():
    # sigma is 1-Lipschitz, so LogMSE <= StdMSE <= 4 / D for every pair.
    torch.manual_seed(0)
    for _ in range(5):
        s, t = torch.randn(8, 20) * 3, torch.randn(8, 20)
        log_val, std_val = LogMSELoss()(s, t), StdMSELoss()(s, t)
        assert 0 < log_val <= std_val <= 4 / 20


def test_gradient_bound_fig4():
    """Scalar student d, teacher 0, no standardization (N = D = 1).

    MSE: L = d^2, dL/dd = 2 d (grows linearly). LogMSE: L = log(1 + d)^2,
    dL/dd = 2 log(1 + d) / (1 + d) <= 2 / e, the maximum at d = e - 1.
    """
    bound = 2 / math.e
    grads = {}
    for d in [1.0, 10.0, 100.0, math.e - 1]:
        for loss_cls in LOSSES:
            s = torch.tensor([[d]], dtype=torch.float64, requires_grad=True)
            t = torch.zeros(1, 1, dtype=torch.float64)
            loss_cls(standardize=False)(s, t).backward()
            grads[loss_cls, d] = s.grad.item()
    for d in [1.0, 10.0, 100.0]:
        assert grads[StdMSELoss, d] == pytest.approx(2 * d)
        assert grads[LogMSELoss,
                     d] == pytest.approx(2 * math.log1p(d) / (1 + d))
        assert grads[LogMSELoss, d] <= bound
    # ln 2 = 0.693, 2 ln 11 / 11 = 0.436, 2 ln 101 / 101 = 0.091: decreasing.
    assert grads[LogMSELoss, 1.0] > grads[LogMSELoss, 10.0] > \
        grads[LogMSELoss, 100.0]
    assert grads[LogMSELoss, math.e - 1] == pytest.approx(bound)


@pytest.mark.parametrize('loss_cls', LOSSES)
def test_teacher_detach(loss_cls):
    torch.manual_seed(0)
    for detach in (True, False):
        s = torch.randn(2, 8, requires_grad=True)
        t = torch.randn(2, 8, requires_grad=True)
        loss_cls(teacher_detach=detach)(s, t).backward()
        assert s.grad is not None and s.grad.abs().sum() > 0
        if detach:
            assert t.grad is None
        else:
            assert t.grad is not None and t.grad.abs().sum() > 0


@pytest.mark.parametrize('loss_cls', LOSSES)
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision(loss_cls, dtype):
    torch.manual_seed(0)
    s, t = torch.randn(4, 64), torch.randn(4, 64)
    ref = loss_cls(reduction='sum_per_sample')(s, t)
    got = loss_cls(reduction='sum_per_sample')(s.to(dtype), t.to(dtype))
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, ref, rtol=2e-2, atol=2e-2)
    # Unstandardized large values would overflow a float16 sum of squares.
    big = torch.full((2, 64), 300., dtype=dtype)
    assert torch.isfinite(StdMSELoss(standardize=False)(big, -big))


@pytest.mark.parametrize('loss_cls', LOSSES)
def test_errors(loss_cls):
    msg = re.escape('student_feat shape (2, 8) != teacher_feat shape (2, 9)')
    with pytest.raises(ValueError, match=msg):
        loss_cls()(torch.zeros(2, 8), torch.zeros(2, 9))
    with pytest.raises(ValueError, match=r'got shape \(8,\)'):
        loss_cls()(torch.zeros(8), torch.zeros(8))
    with pytest.raises(
            ValueError,
            match=r"reduction='sum' must be one of \('mean', "
            r"'sum_per_sample'\)"):
        loss_cls(reduction='sum')
    with pytest.raises(ValueError, match=r'loss_weight=-1.0 must be'):
        loss_cls(loss_weight=-1.0)


def test_functional_forms_match_modules():
    s, t = _pair()
    assert std_mse_loss(s, t).item() == pytest.approx(4 / 3)
    assert log_mse_loss(s, t).item() == pytest.approx(8 * LOG_R**2 / 3)


def test_registered():
    loss = MODELS.build(dict(type='StdMSELoss', loss_weight=2.0))
    assert isinstance(loss, StdMSELoss) and loss.loss_weight == 2.0
    loss = MMENGINE_MODELS.build(
        dict(type='fdkd.LogMSELoss', reduction='sum_per_sample'))
    assert isinstance(loss, LogMSELoss)
    assert loss.reduction == 'sum_per_sample'
