"""Tests of the baseline losses DKD, DML, NKD, AFD and C2KD (paper Table 1):
hand-computed values, invariances, gradient routing, argument checks, and
that each base config builds and trains on AV-digits."""
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from fdkd_helpers import REPO_ROOT
from scipy.stats import kendalltau

from fdkd_plugin.models.losses import (AFDLoss, C2KDLoss, DKDLoss, DMLLoss,
                                       NKDLoss, dkd_loss, dml_loss,
                                       kendall_tau, nkd_loss)
from fdkd_plugin.models.losses.afd_loss import spatial_attention
from fdkd_plugin.models.losses.c2kd_loss import c2kd_loss
from fdkd_plugin.registry import MODELS

# ---------------------------------------------------------------- numpy refs


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _kl(p, q):
    return float(np.sum(p * np.log(p / q)))


def _dkd_ref(zs, zt, g, alpha, beta, tau):
    """DKD of one sample through probabilities (the paper's definition):
    b = (p_g, 1 - p_g), p^ = p over non-target classes renormalized."""
    ps, pt = _softmax(zs / tau), _softmax(zt / tau)
    bs = np.array([ps[g], 1 - ps[g]])
    bt = np.array([pt[g], 1 - pt[g]])
    rest = [i for i in range(len(zs)) if i != g]
    hs, ht = ps[rest] / ps[rest].sum(), pt[rest] / pt[rest].sum()
    return tau**2 * (alpha * _kl(bt, bs) + beta * _kl(ht, hs))


def _logits(seed, n=4, c=5, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=gen, dtype=dtype) * 2,
            torch.randn(n, c, generator=gen, dtype=dtype) * 2,
            torch.randint(0, c, (n, ), generator=gen))


# ----------------------------------------------------------------------- DKD


def test_dkd_matches_the_probability_definition():
    s, t, g = _logits(0)
    ours = DKDLoss(reduction='none')(s, t, g)
    ref = [
        _dkd_ref(s[i].numpy(), t[i].numpy(), int(g[i]), 1.0, 8.0, 4.0)
        for i in range(4)
    ]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10)
    assert DKDLoss()(s, t, g).item() == pytest.approx(np.mean(ref), 1e-10)
    assert DKDLoss(reduction='sum')(s, t, g).item() == pytest.approx(
        np.sum(ref), 1e-10)


def test_dkd_hand_value():
    # C = 3, label 0, tau = 1: student logits (0, 0, 0) -> p = (1/3, 1/3, 1/3)
    # teacher (ln 2, 0, ln 3)            -> p = (1/3, 1/6, 1/2)
    # b^S = (1/3, 2/3), b^T = (1/3, 2/3): TCKD = 0
    # p^S^ = (1/2, 1/2), p^T^ = (1/4, 3/4):
    # NCKD = 1/4 ln(1/2) + 3/4 ln(3/2)
    s = torch.zeros(1, 3)
    t = torch.tensor([[math.log(2), 0., math.log(3)]])
    g = torch.tensor([0])
    nckd = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert dkd_loss(s, t, g, alpha=1, beta=1, tau=1).item() == \
        pytest.approx(nckd, rel=1e-6)
    assert DKDLoss(alpha=5, beta=2, tau=1, loss_weight=3)(s, t, g).item() \
        == pytest.approx(6 * nckd, rel=1e-6)


def test_dkd_decomposes_kd():
    # KD = TCKD + (1 - p^T_g) NCKD (the DKD paper's reformulation)
    s, t, g = _logits(1, n=1, c=6)
    tau = 2.0
    pt_g = F.softmax(t / tau, dim=1)[0, g[0]].item()
    kd = tau**2 * F.kl_div(
        F.log_softmax(s / tau, 1),
        F.softmax(t / tau, 1),
        reduction='batchmean')
    dkd = dkd_loss(s, t, g, alpha=1.0, beta=1 - pt_g, tau=tau)
    torch.testing.assert_close(dkd, kd)


def test_dkd_zero_on_identical_logits_and_weights_separate_terms():
    s, t, g = _logits(2)
    assert DKDLoss()(s, s.clone(), g).item() == pytest.approx(0, abs=1e-12)
    tckd = dkd_loss(s, t, g, alpha=1, beta=0)
    nckd = dkd_loss(s, t, g, alpha=0, beta=1)
    assert tckd > 0 and nckd > 0
    torch.testing.assert_close(
        dkd_loss(s, t, g, alpha=2, beta=3), 2 * tckd + 3 * nckd)


def test_dkd_reduction_is_honoured_unlike_mmrazor():
    from mmrazor.models.losses import DKDLoss as MMRazorDKD
    s, t, g = _logits(3, n=6, c=7)
    n = s.shape[0]
    ours_mean = DKDLoss(alpha=1, beta=8, tau=4)(s, t, g)
    ours_sum = DKDLoss(alpha=1, beta=8, tau=4, reduction='sum')(s, t, g)
    torch.testing.assert_close(ours_sum, n * ours_mean)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # size_average is deprecated
        theirs = {
            r: MMRazorDKD(tau=4, alpha=1, beta=8, reduction=r)(s, t, g)
            for r in ('none', 'batchmean', 'sum', 'mean')
        }
    # size_average=False makes F.kl_div sum over the batch whatever the
    # reduction; only 'batchmean' is then divided by N (F.kl_div's special
    # case). So 'none' gives a scalar, and 'mean' (its published config)
    # gives N x the official batch mean
    torch.testing.assert_close(theirs['batchmean'], ours_mean)
    for r in ('none', 'sum', 'mean'):
        assert theirs[r].dim() == 0
        torch.testing.assert_close(theirs[r], ours_sum)
    assert theirs['mean'].item() == pytest.approx(n * ours_mean.item())
    assert DKDLoss(reduction='none')(s, t, g).shape == (n, )


def test_dkd_teacher_detach_and_arguments():
    s, t, g = _logits(4, dtype=torch.float32)
    s.requires_grad_(), t.requires_grad_()
    DKDLoss()(s, t, g).backward()
    assert s.grad.abs().sum() > 0 and t.grad is None
    DKDLoss(teacher_detach=False)(s, t, g).backward()
    assert t.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r'tau=0 must be a number > 0'):
        DKDLoss(tau=0)
    with pytest.raises(ValueError, match=r'beta=-1 must be a number >= 0'):
        DKDLoss(beta=-1)
    with pytest.raises(ValueError, match=r"reduction='mean' must be one of"):
        DKDLoss(reduction='mean')
    with pytest.raises(ValueError, match=r'loss_weight=-2'):
        DKDLoss(loss_weight=-2)
    with pytest.raises(ValueError, match=r'integer class indices'):
        DKDLoss()(s, t, F.one_hot(g, 5).float())
    with pytest.raises(ValueError, match=r'gt_label has 3 entries'):
        DKDLoss()(s, t, g[:3])
    with pytest.raises(
            ValueError,
            match=r'student_logits shape \(4, 5\) != '
            r'teacher_logits shape \(4, 4\)'):
        DKDLoss()(s, t[:, :4], g)
    # (N, 1) labels, as a loss module receives them, are accepted
    torch.testing.assert_close(DKDLoss()(s, t, g[:, None]), DKDLoss()(s, t, g))


# ----------------------------------------------------------------------- DML


def test_dml_hand_value():
    # p_S = (1/4, 3/4), p_T = (1/2, 1/2)
    s = torch.tensor([[0., math.log(3)]])
    t = torch.zeros(1, 2)
    kl_t_s = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    kl_s_t = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert DMLLoss()(s, t).item() == pytest.approx(kl_t_s + kl_s_t, 1e-6)
    assert DMLLoss(loss_weight=2)(s, t).item() == pytest.approx(
        2 * (kl_t_s + kl_s_t), 1e-6)
    # tau = 2 scales the logits and multiplies by 4: p_S = (1/(1+sqrt3), ..)
    ps = np.array([1, math.sqrt(3)]) / (1 + math.sqrt(3))
    pt = np.array([0.5, 0.5])
    assert DMLLoss(tau=2)(s, t).item() == pytest.approx(
        4 * (_kl(pt, ps) + _kl(ps, pt)), 1e-6)
    assert DMLLoss()(s, s.clone()).item() == 0.0


def test_dml_gradient_routing():
    # d/ds KL(sg p_T || p_S) = tau (p_S - p_T) / N reaches only the student,
    # d/dt KL(sg p_S || p_T) = tau (p_T - p_S) / N reaches only the teacher
    s0, t0, _ = _logits(5, n=3, c=4)
    tau = 2.0
    s, t = s0.clone().requires_grad_(), t0.clone().requires_grad_()
    dml_loss(s, t, tau=tau).backward()
    ps, pt = F.softmax(s0 / tau, 1), F.softmax(t0 / tau, 1)
    torch.testing.assert_close(s.grad, tau * (ps - pt) / 3)
    torch.testing.assert_close(t.grad, tau * (pt - ps) / 3)
    # the student term alone leaves the teacher logits without gradient
    s, t = s0.clone().requires_grad_(), t0.clone().requires_grad_()
    student_term = F.kl_div(
        F.log_softmax(s / tau, 1),
        F.softmax(t / tau, 1).detach(),
        reduction='batchmean')
    loss = dml_loss(s, t, tau=tau)
    g_t, = torch.autograd.grad(loss - tau**2 * student_term, t)
    torch.testing.assert_close(g_t, tau * (pt - ps) / 3)
    assert torch.autograd.grad(
        tau**2 * student_term, t, allow_unused=True)[0] is None


def test_dml_refuses_a_frozen_teacher_in_training_only():
    s = torch.randn(2, 3, requires_grad=True)
    t = torch.randn(2, 3)  # a frozen teacher's logits
    loss = DMLLoss()
    with pytest.raises(RuntimeError, match='teacher_trainable=True'):
        loss(s, t)
    with torch.no_grad():
        assert loss(s, t) > 0
    assert loss.eval()(s, t) > 0
    with pytest.raises(ValueError, match=r'tau=-1.0 must be a number > 0'):
        DMLLoss(tau=-1.0)
    with pytest.raises(ValueError, match=r"reduction='mean'"):
        DMLLoss(reduction='mean')


# ----------------------------------------------------------------------- NKD


def test_nkd_hand_value():
    # identical logits (5, 0, 0, 0), label 0: p_g = e^5 / (e^5 + 3); the
    # non-target distributions are uniform over 3 classes (cross-entropy
    # ln 3): L = -p_g ln p_g + gamma tau^2 ln 3
    z = torch.tensor([[5., 0., 0., 0.]])
    g = torch.tensor([0])
    p = math.exp(5) / (math.exp(5) + 3)
    assert NKDLoss()(z, z.clone(), g).item() == pytest.approx(
        -p * math.log(p) + 1.5 * math.log(3), rel=1e-6)
    assert NKDLoss(
        tau=2, gamma=1)(z, z.clone(), g).item() == pytest.approx(
            -p * math.log(p) + 4 * math.log(3), rel=1e-6)
    assert NKDLoss(target_weight=0)(z, z.clone(), g).item() == \
        pytest.approx(1.5 * math.log(3), rel=1e-6)


def test_nkd_matches_numpy_reference():
    s, t, g = _logits(6, n=5, c=6)
    tau, gamma = 2.0, 1.5
    ref = []
    for i in range(5):
        zs, zt, y = s[i].numpy(), t[i].numpy(), int(g[i])
        rest = [j for j in range(6) if j != y]
        target = -_softmax(zt)[y] * np.log(_softmax(zs)[y])
        qs, qt = _softmax(zs[rest] / tau), _softmax(zt[rest] / tau)
        ref.append(target - gamma * tau**2 * np.sum(qt * np.log(qs)))
    torch.testing.assert_close(
        nkd_loss(s, t, g, tau=tau, gamma=gamma),
        torch.tensor(np.mean(ref), dtype=torch.float64))
    torch.testing.assert_close(
        NKDLoss(tau=tau, reduction='none')(s, t, g),
        torch.tensor(ref, dtype=torch.float64))


def test_nkd_non_target_gradient_vanishes_at_the_teacher():
    s, _, g = _logits(7, dtype=torch.float32)
    s.requires_grad_()
    NKDLoss(target_weight=0)(s, s.detach().clone(), g).backward()
    assert s.grad.abs().max() < 1e-6
    s.grad = None
    NKDLoss()(s, s.detach().clone(), g).backward()
    assert s.grad.abs().max() > 1e-3  # the target term still pulls
    with pytest.raises(ValueError, match=r'gamma=-0.5 must be a number >= 0'):
        NKDLoss(gamma=-0.5)
    with pytest.raises(ValueError, match=r'target_weight=None'):
        NKDLoss(target_weight=None)
    with pytest.raises(ValueError, match=r'need at least 2'):
        NKDLoss()(s[:, :1], s[:, :1], g)


# ----------------------------------------------------------------------- AFD


def test_spatial_attention_hand_value():
    # one channel, 2 x 4 map; pooled to 1 x 2 -> means of f^2 over 2 x 2
    # blocks: (1 + 4 + 1 + 4) / 4 = 2.5 and (0 + 0 + 4 + 4) / 4 = 2;
    # normalized: (2.5, 2) / sqrt(10.25)
    f = torch.tensor([[[[1., 2., 0., 2.], [1., 2., 0., 2.]]]])
    v = spatial_attention(f, (1, 2))
    torch.testing.assert_close(v, torch.tensor([[2.5, 2.0]]) / 10.25**0.5)
    # channels are averaged: (f, -f) gives the map of f
    torch.testing.assert_close(
        spatial_attention(torch.cat([f, -f], 1), (1, 2)), v)


@torch.no_grad()
def _afd_ref(loss, s_feats, t_feats):
    """An independent loop over (n, t, s) with the module's weights in eval
    mode (BatchNorm from running stats)."""

    def lin_bn(seq, x):
        lin, bn = seq[0], seq[1]
        y = x @ lin.weight.T.double() + lin.bias.double()
        y = (y - bn.running_mean.double()
             ) / torch.sqrt(bn.running_var.double() + bn.eps)
        return y * bn.weight.double() + bn.bias.double()

    size = loss.spatial_size
    n_s, n_t, d = len(s_feats), len(t_feats), loss.qk_dim
    total = 0.0
    for n in range(s_feats[0].shape[0]):
        for ti, ft in enumerate(t_feats):
            q = lin_bn(loss.query[ti], ft[n].mean((1, 2)))
            vt = F.adaptive_avg_pool2d(ft[n].pow(2).mean(0)[None], size)
            vt = vt.flatten() / vt.flatten().norm()
            logits, mses = [], []
            for si, fs in enumerate(s_feats):
                k = lin_bn(loss.key[si], fs[n].mean((1, 2))).clamp(min=0)
                kst = lin_bn(loss.bilinear, k).reshape(n_t, d)[ti]
                e = loss.teacher_embed[ti].double() @ \
                    loss.student_embed[si].double()
                logits.append((kst @ q + e) / math.sqrt(d))
                vs = F.adaptive_avg_pool2d(fs[n].pow(2).mean(0)[None], size)
                vs = vs.flatten() / vs.flatten().norm()
                mses.append(((vs - vt)**2).mean())
            att = torch.softmax(torch.stack(logits), 0)
            total += float((att * torch.stack(mses)).sum())
    return total / s_feats[0].shape[0]


def _afd_feats(seed, channels, sizes, n=3):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(n, c, *hw, generator=gen, dtype=torch.float64)
        for c, hw in zip(channels, sizes)
    ]


def test_afd_matches_a_direct_computation():
    torch.manual_seed(0)
    loss = AFDLoss([4, 6], [5, 3, 2], qk_dim=8, spatial_size=(2, 3)).eval()
    s = _afd_feats(1, [4, 6], [(6, 4), (3, 2)])
    t = _afd_feats(2, [5, 3, 2], [(8, 8), (4, 4), (1, 1)])
    with torch.no_grad():  # the BN running stats are not the identity
        for m in loss.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    value = loss.double()(
        student_feat_1=s[0],
        student_feat_2=s[1],
        teacher_feat_1=t[0],
        teacher_feat_2=t[1],
        teacher_feat_3=t[2])
    assert value.item() == pytest.approx(_afd_ref(loss, s, t), rel=1e-9)
    loss.loss_weight = 200.0
    assert loss(
        student_feat_1=s[0],
        student_feat_2=s[1],
        teacher_feat_1=t[0],
        teacher_feat_2=t[1],
        teacher_feat_3=t[2]).item() == pytest.approx(
            200 * value.item(), rel=1e-12)


def test_afd_zero_when_all_maps_agree_and_gradients():
    torch.manual_seed(0)
    base = torch.rand(2, 1, 8, 8) + 0.1
    # every layer's channel-pooled map is a multiple of base^2 at 8 x 8
    s = [base.repeat(1, 4, 1, 1), 2 * base.repeat(1, 8, 1, 1)]
    t = [3 * base.repeat(1, 6, 1, 1), base.repeat(1, 2, 1, 1)]
    loss = AFDLoss([4, 8], [6, 2], qk_dim=16, spatial_size=4)
    zero = loss(
        student_feat_1=s[0],
        student_feat_2=s[1],
        teacher_feat_1=t[0],
        teacher_feat_2=t[1])
    assert zero.item() == pytest.approx(0.0, abs=1e-12)
    # different maps: positive, the student and the attention learn, the
    # (detached) teacher maps do not
    s = [
        f.clone().requires_grad_()
        for f in _afd_feats(3, [4, 8], [(8, 8), (4, 4)], n=2)
    ]
    t = [
        f.float().requires_grad_()
        for f in _afd_feats(4, [6, 2], [(16, 8), (2, 2)], n=2)
    ]
    value = loss(
        student_feat_1=s[0].float(),
        student_feat_2=s[1].float(),
        teacher_feat_1=t[0],
        teacher_feat_2=t[1])
    assert value > 0
    value.backward()
    assert all(f.grad.abs().sum() > 0 for f in s)
    assert all(f.grad is None for f in t)
    assert loss.query[0][0].weight.grad.abs().sum() > 0
    assert loss.key[1][0].weight.grad.abs().sum() > 0
    assert loss.teacher_embed.grad.abs().sum() > 0
    # the attention rows are distributions over the student layers
    att = loss.attention([f.float() for f in s], t)
    assert att.shape == (2, 2, 2)
    torch.testing.assert_close(att.sum(2), torch.ones(2, 2))


def test_afd_arguments():
    with pytest.raises(ValueError, match=r'qk_dim=0 must be an int >= 1'):
        AFDLoss([4], [4], qk_dim=0)
    with pytest.raises(ValueError, match=r'student_channels=\[\] must be'):
        AFDLoss([], [4])
    with pytest.raises(ValueError, match=r'has 9 layers; at most 8'):
        AFDLoss([4], list(range(1, 10)))
    with pytest.raises(ValueError, match=r'channel count 0 must be an int'):
        AFDLoss([4, 0], [4])
    with pytest.raises(ValueError, match=r'spatial_size=0 must be an int'):
        AFDLoss([4], [4], spatial_size=0)
    loss = AFDLoss([4, 8], [4])
    f4, f8 = torch.randn(2, 4, 4, 4), torch.randn(2, 8, 2, 2)
    with pytest.raises(
            ValueError,
            match=r"student_feat_1 .. student_feat_2 "
            r"are needed .* got \['student_feat_1'\]"):
        loss(student_feat_1=f4, teacher_feat_1=f4)
    with pytest.raises(
            ValueError, match=r'student_feat_2 must be \(N, 8, H, W\)'):
        loss(student_feat_1=f4, student_feat_2=f4, teacher_feat_1=f4)
    assert loss(
        student_feat_1=f4, student_feat_2=f8, teacher_feat_1=f4).dim() == 0


# ---------------------------------------------------------------------- C2KD


def test_kendall_tau_matches_scipy():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(20, 9, generator=gen, dtype=torch.float64)
    y = torch.randn(20, 9, generator=gen, dtype=torch.float64)
    ours = kendall_tau(x, y)
    ref = [kendalltau(a, b)[0] for a, b in zip(x.numpy(), y.numpy())]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12)
    # tau-b with ties, as scipy's default
    xt, yt = x.round(), (y * 0.7).round()
    ref = [kendalltau(a, b)[0] for a, b in zip(xt.numpy(), yt.numpy())]
    np.testing.assert_allclose(kendall_tau(xt, yt).numpy(), ref, rtol=1e-12)
    assert kendall_tau(x, x).eq(1).all() and kendall_tau(x, -x).eq(-1).all()
    assert torch.isnan(kendall_tau(torch.ones(1, 4), x[:1, :4])).all()
    # no autograd, float32 by default
    xg = x.float().requires_grad_()
    out = kendall_tau(xg, y.float())
    assert not out.requires_grad and out.dtype == torch.float32


def _c2kd_ref(o_s, o_t, z_s, z_t, g, thr, mode):
    """One batch of the official objective in numpy (tau = 1)."""
    total_bid, total_ofsd = 0.0, 0.0
    n = len(g)
    for i in range(n):
        ps, pt = _softmax(o_s[i]), _softmax(o_t[i])
        qs, qt = _softmax(z_s[i]), _softmax(z_t[i])
        total_bid += _kl(qs, ps) + _kl(ps, qs) + _kl(qt, pt) + _kl(pt, qt)
        if kendalltau(o_t[i], o_s[i])[0] > thr:
            if mode == 'zero':
                a, b = o_s[i].copy(), o_t[i].copy()
                a[g[i]], b[g[i]] = 0, 0
            else:
                keep = [j for j in range(len(o_s[i])) if j != g[i]]
                a, b = o_s[i][keep], o_t[i][keep]
            ns, nt = _softmax(a), _softmax(b)
            total_ofsd += _kl(nt, ns) + _kl(ns, nt)
    return total_bid / n + total_ofsd / n


def test_c2kd_kendall_gate_and_reference():
    # sample 0: the proxies rank the classes alike (tau = 1);
    # sample 1: reversed ranking (tau = -1) -> no non-target term
    o_s = torch.tensor([[3., 1., 0., -1.], [3., 1., 0., -1.]],
                       dtype=torch.float64)
    o_t = torch.tensor([[2., 1.5, -1., -2.], [-2., -1., 1.5, 2.]],
                       dtype=torch.float64)
    z_s = torch.tensor([[1., 0., 0., 2.], [0., 1., 0., 0.]],
                       dtype=torch.float64)
    z_t = torch.tensor([[0., 0., 1., 0.], [1., 0., -1., 0.]],
                       dtype=torch.float64)
    g = torch.tensor([0, 2])
    torch.testing.assert_close(
        kendall_tau(o_t, o_s), torch.tensor([1., -1.], dtype=torch.float64))
    args = [x.numpy() for x in (o_s, o_t, z_s, z_t)] + [g.numpy()]
    for mode in ('zero', 'drop'):
        ours = c2kd_loss(o_s, o_t, z_s, z_t, g, non_target=mode)
        assert ours.item() == pytest.approx(
            _c2kd_ref(*args, 0.0, mode), rel=1e-10)
    # the reversed sample contributes only through L_bid: dropping its
    # non-target term by hand changes nothing, gating it in changes the loss
    bid_only = c2kd_loss(o_s, o_t, z_s, z_t, g, ofsd_weight=0)
    gated = c2kd_loss(o_s, o_t, z_s, z_t, g)
    first_only = c2kd_loss(o_s[:1], o_t[:1], z_s[:1], z_t[:1], g[:1])
    first_bid = c2kd_loss(
        o_s[:1], o_t[:1], z_s[:1], z_t[:1], g[:1], ofsd_weight=0)
    # L_ofsd = (term of sample 0 + 0) / 2
    torch.testing.assert_close(gated - bid_only, (first_only - first_bid) / 2)
    all_in = c2kd_loss(o_s, o_t, z_s, z_t, g, krc_threshold=-1.0)
    assert all_in == gated  # tau = -1 does not pass '> -1' either
    assert c2kd_loss(o_s, o_t, z_s, z_t, g, krc_threshold=0.999) == \
        pytest.approx(bid_only.item() + (first_only - first_bid).item() / 2)
    # the two ways of removing the target differ
    assert c2kd_loss(o_s, o_t, z_s, z_t, g, non_target='drop') != gated


def test_c2kd_zero_when_everything_agrees_and_gradient_routing():
    z = torch.tensor([[2., 0.5, -1.], [0., 1., 3.]])
    g = torch.tensor([0, 1])
    assert c2kd_loss(z, z, z, z, g).item() == pytest.approx(0.0, abs=1e-7)
    o_s, o_t, z_s, z_t = (torch.randn(3, 5).requires_grad_() for _ in range(4))
    c2kd_loss(
        o_s, o_t, z_s, z_t, torch.tensor([0, 3, 4]),
        krc_threshold=-1.0).backward()
    assert all(x.grad.abs().sum() > 0 for x in (o_s, o_t, z_s, z_t))


def test_c2kd_module_trains_proxies_and_both_networks():
    torch.manual_seed(0)
    loss = C2KDLoss(student_channels=6, teacher_channels=4, num_classes=5)
    f_s = torch.randn(4, 6, 5, 3, requires_grad=True)
    f_t = torch.randn(4, 4, 2, 2, requires_grad=True)
    z_s = torch.randn(4, 5, requires_grad=True)
    z_t = torch.randn(4, 5, requires_grad=True)
    g = torch.tensor([0, 1, 2, 3])
    value = loss(f_s, f_t, z_s, z_t, g)
    value.backward()
    for x in (f_s, f_t, z_s, z_t):
        assert x.grad.abs().sum() > 0
    assert loss.student_proxy[-1].weight.grad.abs().sum() > 0
    assert loss.teacher_proxy[1].weight.grad.abs().sum() > 0
    # it is c2kd_loss on the proxies' logits
    o_s, o_t = loss.student_proxy(f_s), loss.teacher_proxy(f_t)
    assert o_s.shape == (4, 5)
    torch.testing.assert_close(
        value, c2kd_loss(o_s, o_t, z_s, z_t, g), rtol=1e-6, atol=1e-6)
    # pooled features work as well (a 1x1 map)
    assert loss(f_s.mean((2, 3)), f_t.mean((2, 3)), z_s, z_t, g) > 0
    with pytest.raises(RuntimeError, match='teacher_trainable=True'):
        loss(f_s, f_t, z_s, z_t.detach(), g)
    with torch.no_grad():
        loss(f_s, f_t, z_s, z_t.detach(), g)


def test_c2kd_arguments():
    with pytest.raises(ValueError, match=r'num_classes=1 must be an int >= 2'):
        C2KDLoss(4, 4, 1)
    with pytest.raises(ValueError, match=r'student_channels=0'):
        C2KDLoss(0, 4, 3)
    with pytest.raises(ValueError, match=r'krc_threshold=1 must be in'):
        C2KDLoss(4, 4, 3, krc_threshold=1)
    with pytest.raises(ValueError, match=r"non_target='keep' must be one"):
        C2KDLoss(4, 4, 3, non_target='keep')
    with pytest.raises(ValueError, match=r'tau=0.0 must be a number > 0'):
        C2KDLoss(4, 4, 3, tau=0.0)
    with pytest.raises(ValueError, match=r'student_logits must be \(N, 3\)'):
        C2KDLoss(4, 4, 3).eval()(torch.randn(2, 4), torch.randn(2, 4),
                                 torch.randn(2, 5), torch.randn(2, 5),
                                 torch.tensor([0, 1]))


# ------------------------------------------------------------------- configs

BASES = ['dkd', 'dml', 'nkd', 'afd', 'c2kd']


def _child(method, direction='audio_from_visual', merge=True):
    """A config as the AV-digits child of configs/baselines/{method}/ would
    be: the AV-digits composite base plus the method's base."""
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/_base_/av/avdigits.py')
    base = Config.fromfile(f'{REPO_ROOT}/configs/_base_/baselines/{method}.py')
    distiller = base[f'{method}_distiller']
    if merge and method in ('afd', 'c2kd'):
        loss = distiller.distill_losses[f'loss_{method}']
        loss.update(cfg[f'{method}_channels'])
    student, teacher = direction.split('_from_')
    cfg.model = dict(
        type='fdkd.CrossModalDistill',
        architecture=cfg[f'{student}_model'],
        teacher=cfg[f'{teacher}_model'],
        student_modality=student,
        teacher_modality=teacher,
        teacher_trainable=method in ('dml', 'c2kd'),
        distiller=distiller)
    cfg.val_cfg = cfg.cross_modal_val_cfg
    cfg.test_cfg = cfg.cross_modal_test_cfg
    return cfg


@pytest.mark.parametrize('method', BASES)
def test_base_config_builds_and_steps(method):
    """Every base builds on the half-width AV-digits networks and one
    training step on random inputs gives finite losses that reach the
    student (both directions share the code path; one is enough here)."""
    cfg = _child(method)
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(cfg.model)
    model.train()
    torch.manual_seed(0)
    inputs = {
        'audio': torch.randn(4, 1, 64, 32),
        'visual': torch.randn(4, 3, 32, 32)
    }
    losses = model.loss(inputs, _samples(4))
    key = f'distill.loss_{method}'
    assert torch.isfinite(losses[key]) and losses[key] > 0
    assert ('teacher.loss' in losses) == (method in ('dml', 'c2kd'))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    conv = model.architecture.backbone.conv1.weight
    assert conv.grad is not None and conv.grad.abs().sum() > 0


def test_full_width_bases_need_the_avdigits_channels():
    cfg = _child('afd', merge=False)
    with DefaultScope.overwrite_default_scope('fdkd'), \
            pytest.raises(ValueError, match=r'student_feat_1 must be '
                          r'\(N, 64, H, W\)'):
        model = MODELS.build(cfg.model).train()
        model.loss(
            {
                'audio': torch.randn(2, 1, 64, 32),
                'visual': torch.randn(2, 3, 32, 32)
            }, _samples(2))


def _samples(n):
    from mmpretrain.structures import DataSample
    return [DataSample().set_gt_label(i % 10) for i in range(n)]
