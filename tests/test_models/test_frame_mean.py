"""fdkd.FrameMean (and OFD's frame-mean teacher connector): per-frame rows
(N*k, ...) to one row per clip (N, ...); and the VGGSound FDKD configs,
whose visual network folds k=3 frames into the batch, train a step."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample
from mmrazor.models.architectures.connectors import OFDTeacherConnector

from fdkd_helpers import REPO_ROOT

from fdkd_plugin.models.connectors import (FrameMean,
                                           FrameMeanOFDTeacherConnector)
from fdkd_plugin.models.connectors.frame_mean import frame_mean
from fdkd_plugin.registry import MODELS


def test_clip_mean_of_consecutive_rows_by_hand():
    x = torch.tensor([[1., 2.], [3., 4.], [5., 12.],    # clip 0, k=3
                      [0., -3.], [6., 0.], [0., 0.]])   # clip 1
    out = MODELS.build(dict(type='fdkd.FrameMean', num_frames=3))(x)
    torch.testing.assert_close(out, torch.tensor([[3., 6.], [2., -1.]]))
    # k=1 is the identity; k=N*k one row
    torch.testing.assert_close(FrameMean(1)(x), x)
    torch.testing.assert_close(FrameMean(6)(x), x.mean(0, keepdim=True))


def test_maps_commute_with_pooling_not_with_relu():
    torch.manual_seed(0)
    maps = torch.randn(4 * 3, 5, 7, 6)  # (N*k, C, H, W)
    clip = FrameMean(3)(maps)
    assert clip.shape == (4, 5, 7, 6)
    torch.testing.assert_close(clip[1], maps[3:6].mean(0))

    def pool(t):
        return F.adaptive_avg_pool2d(t, 1)

    # linear: pool(mean) == mean(pool)
    torch.testing.assert_close(pool(clip), FrameMean(3)(pool(maps)))
    assert not torch.allclose(F.relu(clip), FrameMean(3)(F.relu(maps)))


def test_gradient_splits_evenly_over_the_frames():
    x = torch.randn(6, 4, requires_grad=True)
    FrameMean(2)(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((6, 4), 0.5))


def test_rows_not_a_multiple_of_k_and_bad_k_are_named():
    with pytest.raises(ValueError, match=r'shape \(7, 4\).*num_frames=3'):
        FrameMean(3)(torch.randn(7, 4))
    with pytest.raises(ValueError, match=r'shape \(\).*num_frames=2'):
        frame_mean(torch.tensor(1.0), 2)
    for bad in (0, -2, 2.0, True, None):
        with pytest.raises(ValueError, match=rf'num_frames={bad!r} must'):
            FrameMean(bad)
        with pytest.raises(ValueError, match=rf'num_frames={bad!r} must'):
            FrameMeanOFDTeacherConnector(bad)


def test_ofd_teacher_connector_clamps_the_clip_mean():
    """max(mean_j t_j, m), not mean_j max(t_j, m); an OFDTeacherConnector
    (mmrazor.OFDDistiller sets margins only on that type)."""
    conn = MODELS.build(
        dict(type='fdkd.FrameMeanOFDTeacherConnector', num_frames=2))
    assert isinstance(conn, OFDTeacherConnector)
    conn.init_margin(torch.tensor([-1.0, -0.5]).view(1, 2, 1, 1))
    # one clip, two frames, two channels, 1x1 maps
    t = torch.tensor([[-3.0, 2.0], [1.0, -4.0]]).view(2, 2, 1, 1)
    t.requires_grad_(True)
    out = conn(t)
    # channel 0: mean -1 vs margin -1 -> -1 (mean of clamps: 0)
    # channel 1: mean -1 vs margin -0.5 -> -0.5 (mean of clamps: 0.75)
    torch.testing.assert_close(out.flatten(), torch.tensor([-1.0, -0.5]))
    clamp_first = torch.max(t.detach(), conn.margin).mean(0)
    torch.testing.assert_close(clamp_first.flatten(),
                               torch.tensor([0.0, 0.75]))
    assert not out.requires_grad  # detached, as OFD's teacher connector


FDKD = ['audio_from_visual', 'visual_from_audio']


def load_fdkd(direction: str) -> Config:
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'fdkd', f'vggsound_{direction}.py'))
    cfg.model.teacher_ckpt = None  # no trained teacher here
    return cfg


@pytest.mark.parametrize('direction', FDKD)
def test_vggsound_num_frames_is_one_number(direction):
    cfg = load_fdkd(direction)
    assert cfg.num_frames == 3  # paper A.2
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loads = [
            t for t in getattr(cfg, loader).dataset.pipeline
            if t.type == 'fdkd.LoadFrames'
        ]
        assert [t.num_frames for t in loads] == [cfg.num_frames], loader
    side = 'teacher' if direction == 'audio_from_visual' else 'student'
    other = 'student' if side == 'teacher' else 'teacher'
    distiller = cfg.model.distiller
    assert distiller[f'{side}_connector'] == dict(
        type='fdkd.FrameMean', num_frames=cfg.num_frames)
    assert distiller.get(f'{other}_connector') is None


def snapshot(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def distill_losses(losses: dict) -> dict:
    return {
        k: float(v.detach())
        for k, v in losses.items() if k.startswith('distill.')
    }


@pytest.mark.slow
@pytest.mark.parametrize('direction', FDKD)
def test_vggsound_fdkd_trains_a_step_on_three_frames(direction):
    """One SGD step of the shipped config (full width, small random
    inputs in the pipelines' layouts: k=3 frames per clip); and with 3 equal
    frames its losses are those of the single frame, whose records are per
    clip already (FrameMean set to k=1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = load_fdkd(direction)
        with DefaultScope.overwrite_default_scope('fdkd'):
            model = MODELS.build(cfg.model)
        n, k = 4, cfg.num_frames
        torch.manual_seed(0)
        frame = torch.randn(n, 3, 32, 32)
        batch = dict(
            audio=torch.randn(n, 1, 64, 48),
            visual=frame.unsqueeze(1).repeat(1, k, 1, 1, 1))  # (N, k, ...)
        samples = [
            DataSample().set_gt_label(i % cfg.num_classes) for i in range(n)
        ]
        model.train()
        conn = (model.distiller.teacher_connector if direction
                == 'audio_from_visual' else model.distiller.student_connector)
        assert isinstance(conn, FrameMean) and conn.num_frames == k
        per_frame = distill_losses(model.loss(batch, samples))
        conn.num_frames = 1
        per_clip = distill_losses(
            model.loss(dict(batch, visual=frame), samples))
        conn.num_frames = k
        assert per_frame.keys() == per_clip.keys()
        for key, value in per_frame.items():
            assert value == pytest.approx(per_clip[key], rel=1e-4), key

        # distinct frames: one optimizer step
        batch['visual'] = torch.randn(n, k, 3, 32, 32)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        student0 = snapshot(model.student)
        teacher0 = snapshot(model.teacher)
        log_vars = model.train_step(
            dict(inputs=batch, data_samples=samples), optim_wrapper)
        losses = distill_losses(log_vars)
        assert {'distill.loss_low', 'distill.loss_high'} <= set(losses)
        for key, value in losses.items():
            assert math.isfinite(value) and value > 0, (key, value)
        moved = [
            name for name, v in snapshot(model.student).items()
            if v.dtype.is_floating_point and not torch.equal(v, student0[name])
        ]
        # the visual student's inner ResNet learns through the frame mean
        assert any(name.endswith('layer1.0.conv1.weight') for name in moved)
        teacher1 = snapshot(model.teacher)
        assert all(torch.equal(v, teacher1[name])
                   for name, v in teacher0.items())
    finally:
        torch.set_num_threads(threads)
