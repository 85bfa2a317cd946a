"""FDKD under automatic mixed precision (``--amp``, ``AmpOptimWrapper``).

What AMP needs from the frequency split: inside ``torch.autocast`` the FFT
runs in float32 (there are no half / bfloat16 FFT kernels on CPU and half
spectra lose the small bins), and the bands come out in float32 like the
output of any autocast float32 op, so low + high + dc reconstructs the
feature to float32 precision; a whole AMP training step then gives finite
losses and gradients. On CPU MMEngine's autocast computes in bfloat16, the
only CPU AMP dtype it allows.

``AmpOptimWrapper`` refuses to be built without a GPU; the ``amp_wrapper``
fixture lifts that check, after which its CUDA GradScaler disables itself
and the wrapper is MMEngine's bfloat16 autocast around the same step.
"""
import copy
import math
import os.path as osp
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.structures import DataSample

import fdkd_plugin.models.distillers.freq_decoupled_distiller as fdd
from fdkd_plugin.frequency import frequency_split
from fdkd_plugin.registry import MODELS

from fdkd_helpers import REPO_ROOT

FDKD_CFG = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                               'audio-from-visual.py')
FFT_FUNCS = ('rfft', 'irfft', 'rfft2', 'irfft2')
SHAPES = [(8, 256), (2, 4, 8, 8)]


def autocast_cpu():
    return torch.autocast('cpu', dtype=torch.bfloat16)


def reference_split(x: torch.Tensor):
    """The float32 split of the same values, outside autocast."""
    return frequency_split(x.float())


# ------------------------------------------------------- the split alone
@pytest.mark.parametrize('shape', SHAPES)
def test_split_of_float32_under_autocast_stays_float32(shape):
    torch.manual_seed(0)
    x = torch.randn(*shape)
    with autocast_cpu():
        parts = frequency_split(x)
    for got, want in zip(parts, reference_split(x)):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    torch.testing.assert_close(
        parts.low + parts.high + parts.dc, x, rtol=0, atol=1e-5)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('shape', SHAPES)
def test_split_of_half_feature_under_autocast_is_float32(shape, dtype):
    """A feature from an autocast layer is bfloat16 / float16: the split
    must still hand float32 bands on, as autocast's float32 ops do. With
    the bands cast back to the half dtype, low + high + dc misses x by the
    half rounding (~1e-2) instead of float32's ~1e-6."""
    torch.manual_seed(0)
    x = torch.randn(*shape).to(dtype)
    with autocast_cpu():
        parts = frequency_split(x)
    assert [p.dtype for p in parts] == [torch.float32] * 3
    for got, want in zip(parts, reference_split(x)):
        torch.testing.assert_close(got.float(), want, rtol=0, atol=1e-6)
    recon = parts.low.float() + parts.high.float() + parts.dc.float()
    torch.testing.assert_close(recon, x.float(), rtol=0, atol=1e-5)


# ------------------------------------------------ a whole AMP train step
@pytest.fixture
def amp_wrapper(monkeypatch):
    """Build MMEngine's ``AmpOptimWrapper`` for a model on this CPU."""
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    if not torch.cuda.is_available():
        monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                            lambda: True)

    def build(model, optim_cfg):
        cfg = copy.deepcopy(optim_cfg)
        cfg.update(type='AmpOptimWrapper', loss_scale='dynamic')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the disabled CUDA GradScaler
            return build_optim_wrapper(model, cfg)

    return build


def build_fdkd():
    """The AV-digits FDKD model (half-width ResNet-18s, random weights)."""
    cfg = Config.fromfile(FDKD_CFG)
    cfg.model.teacher_ckpt = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    return model.train(), cfg.optim_wrapper


def tiny_batch(n: int = 4) -> dict:
    """A paired batch as the Runner's loader gives it (pseudo-collated)."""
    gen = torch.Generator().manual_seed(1)
    return dict(
        inputs=dict(
            audio=[torch.randn(1, 32, 32, generator=gen) for _ in range(n)],
            visual=[torch.randn(3, 32, 32, generator=gen) for _ in range(n)]),
        data_samples=[DataSample().set_gt_label(i % 10) for i in range(n)])


def floats(log_vars: dict) -> dict:
    """``train_step``'s log (0-d tensors in MMEngine 0.10) as floats."""
    return {k: float(v.detach()) for k, v in log_vars.items()}


def watched_amp_step(monkeypatch, model, wrapper, steps: int = 2):
    """Run ``steps`` AMP train steps, recording the dtypes of every FFT
    call and of every frequency split the distiller makes."""
    seen = dict(fft=[], split_in=[], split_out=[])
    for name in FFT_FUNCS:
        fn = getattr(torch.fft, name)

        def wrapped(x, *args, _fn=fn, _name=name, **kwargs):
            out = _fn(x, *args, **kwargs)
            seen['fft'].append((_name, x.dtype, out.dtype))
            return out

        monkeypatch.setattr(torch.fft, name, wrapped)
    split = fdd.frequency_split

    def watch_split(x, *args, **kwargs):
        parts = split(x, *args, **kwargs)
        seen['split_in'].append(x.dtype)
        seen['split_out'].append(tuple(p.dtype for p in parts))
        return parts

    monkeypatch.setattr(fdd, 'frequency_split', watch_split)
    logs = [
        floats(model.train_step(tiny_batch(), wrapper))
        for _ in range(steps)
    ]
    return seen, logs


def test_amp_step_finite_and_fft_in_float32(monkeypatch, amp_wrapper):
    model, optim_cfg = build_fdkd()
    wrapper = amp_wrapper(model, optim_cfg)
    student0 = {
        k: v.clone()
        for k, v in model.student.state_dict().items()
        if v.is_floating_point()
    }
    seen, logs = watched_amp_step(monkeypatch, model, wrapper)

    # autocast was on: the recorded feature reached the split in bfloat16
    assert seen['split_in'] == [torch.bfloat16] * 2
    # ... and every FFT of the step ran in float32 / complex64
    names = {name for name, _, _ in seen['fft']}
    assert {'rfft', 'irfft'} <= names
    for name, x_dtype, out_dtype in seen['fft']:
        assert x_dtype in (torch.float32, torch.complex64), (name, x_dtype)
        assert out_dtype in (torch.float32, torch.complex64), name
    for log in logs:
        for key in ('loss', 'distill.loss_low', 'distill.loss_high',
                    'distill.loss_align_low_student', 'student.loss'):
            assert math.isfinite(log[key]), (key, log[key])
        # each standardized feature term is in [0, 4 / D], D = 256
        assert 0 < log['distill.loss_low'] <= 4 / 256
        assert 0 < log['distill.loss_high'] <= 4 / 256
    changed = 0
    for k, v in model.student.state_dict().items():
        if k in student0:
            assert torch.isfinite(v).all(), k
            changed += not torch.equal(v, student0[k])
    assert changed > 0  # the optimizer stepped


def test_amp_step_feature_losses_match_fp32(amp_wrapper):
    """Same weights and batch: the AMP step's feature losses are those of
    the fp32 step up to the bfloat16 rounding of the features."""
    model, optim_cfg = build_fdkd()
    ref_model = copy.deepcopy(model)
    amp_log = floats(
        model.train_step(tiny_batch(), amp_wrapper(model, optim_cfg)))
    ref_log = floats(
        ref_model.train_step(tiny_batch(),
                             build_optim_wrapper(ref_model, optim_cfg)))
    for key in ('distill.loss_low', 'distill.loss_high', 'student.loss'):
        assert amp_log[key] == pytest.approx(ref_log[key], rel=0.05), key


def test_amp_step_split_outputs_float32(monkeypatch, amp_wrapper):
    """Inside the AMP step the distiller's split returns float32 bands, so
    the standardization and log-MSE see the float32 spectrum's output,
    not its bfloat16 rounding."""
    model, optim_cfg = build_fdkd()
    seen, _ = watched_amp_step(monkeypatch, model,
                               amp_wrapper(model, optim_cfg), steps=1)
    assert seen['split_out'] == [(torch.float32, ) * 3]
