"""Frames folded into the batch (fdkd.MultiFrameBackbone) and the clip
mean of per-frame records (fdkd.CrossModalDistill): the layer paths and
checkpoints of a one-frame network, one record row per clip before any
connector; and the VGGSound FDKD configs, whose visual network folds k=3
frames, train a step."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.models import ResNet
from mmpretrain.structures import DataSample
from mmrazor.models.task_modules import RecorderManager

from fdkd_helpers import REPO_ROOT

from fdkd_plugin.models.backbones import (FrameFolding, average_frame_records,
                                          frame_mean, frames_per_clip)
from fdkd_plugin.experiments import method_config
from fdkd_plugin.registry import MODELS


def test_clip_mean_of_consecutive_rows_by_hand():
    x = torch.tensor([[1., 2.], [3., 4.], [5., 12.],    # clip 0, k=3
                      [0., -3.], [6., 0.], [0., 0.]])   # clip 1
    torch.testing.assert_close(frame_mean(x, 3),
                               torch.tensor([[3., 6.], [2., -1.]]))
    torch.testing.assert_close(frame_mean(x, 1), x)  # k=1: the identity
    torch.testing.assert_close(frame_mean(x, 6), x.mean(0, keepdim=True))
    with pytest.raises(ValueError, match=r'shape \(7, 4\).*num_frames=3'):
        frame_mean(torch.randn(7, 4), 3)
    with pytest.raises(ValueError, match=r'shape \(\).*num_frames=2'):
        frame_mean(torch.tensor(1.0), 2)


def build_folded(**kwargs):
    cfg = dict(type='mmpretrain.ResNet', depth=18, base_channels=8,
               stem_channels=8, out_indices=(2, 3), **kwargs)
    return MODELS.build(dict(type='fdkd.MultiFrameBackbone', backbone=cfg))


def test_backbone_is_the_image_backbone_with_its_paths_and_checkpoint():
    """A subclass of mmpretrain's ResNet: same module paths (a recorder
    names backbone.layer4.1.relu as for one frame) and state dict keys, so
    a one-frame checkpoint loads strictly; one class per backbone class."""
    torch.manual_seed(0)
    folded = build_folded()
    assert isinstance(folded, ResNet) and isinstance(folded, FrameFolding)
    assert type(folded).__name__ == 'MultiFrameResNet'
    assert type(build_folded()) is type(folded)
    plain = ResNet(depth=18, base_channels=8, stem_channels=8,
                   out_indices=(2, 3))
    assert 'layer4.1.relu' in dict(folded.named_modules())
    assert list(folded.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(folded.state_dict(), strict=True)
    # init_cfg given to the wrapper reaches the backbone
    assert build_folded().init_cfg == plain.init_cfg
    zeros = dict(type='Constant', val=0.0, layer='Conv2d')
    built = MODELS.build(
        dict(type='fdkd.MultiFrameBackbone', init_cfg=zeros,
             backbone=dict(type='mmpretrain.ResNet', depth=18)))
    assert built.init_cfg == zeros


def test_outputs_are_the_frame_means_of_the_per_frame_outputs():
    torch.manual_seed(0)
    folded = build_folded()
    folded.eval()  # (mmpretrain's ResNet.train returns None)
    clips = torch.randn(2, 3, 3, 32, 32)  # (N, k, C, H, W)
    with torch.no_grad():
        outs = folded(clips)
        per_frame = [folded(clips[:, j]) for j in range(3)]  # 4-D: as is
    assert [o.shape for o in outs] == [(2, 32, 2, 2), (2, 64, 1, 1)]
    for i, out in enumerate(outs):
        want = torch.stack([p[i] for p in per_frame]).mean(0)
        torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r'MultiFrameResNet expects.*'
                       r'got \(2, 3, 32\)'):
        folded(torch.randn(2, 3, 32))
    # k from the input, only for a network that folds
    assert frames_per_clip(folded, clips) == 3
    assert frames_per_clip(folded, clips[:, 0]) == 1
    assert frames_per_clip(ResNet(depth=18), clips) == 1
    with pytest.raises(ValueError, match="backbone=dict"):
        MODELS.build(dict(type='fdkd.MultiFrameBackbone', backbone=None))


def test_records_of_n_times_k_rows_become_clip_means():
    """Tensors with N*k rows (inner layers) are averaged per clip, inside
    tuples too; N-row records (after the backbone's own mean) stay."""
    conv = torch.nn.Conv2d(1, 1, 1)
    head = torch.nn.Linear(2, 2)
    model = torch.nn.ModuleDict(dict(conv=conv, head=head))
    # scoped types: a default scope left by another test must not matter
    manager = RecorderManager(dict(
        inner=dict(type='mmrazor.ModuleOutputs', source='conv'),
        args=dict(type='mmrazor.ModuleInputs', source='conv'),
        clip=dict(type='mmrazor.ModuleOutputs', source='head')))
    manager.initialize(model)
    x = torch.arange(12.).view(6, 1, 2, 1)  # N=2 clips, k=3
    with manager:
        conv(x)
        head(torch.ones(2, 2))
    average_frame_records(manager, 2, 3)
    inner = manager.get_recorder('inner').get_record_data()
    torch.testing.assert_close(inner, frame_mean(conv(x), 3))
    args = manager.get_recorder('args').data_buffer[0]
    assert isinstance(args, tuple)
    torch.testing.assert_close(args[0], frame_mean(x, 3))
    assert manager.get_recorder('clip').get_record_data().shape == (2, 2)
    before = manager.get_recorder('inner').data_buffer[0]
    average_frame_records(manager, 2, 1)  # k=1: nothing to do
    assert manager.get_recorder('inner').data_buffer[0] is before


FDKD = ['audio_from_visual', 'visual_from_audio']


def load_fdkd(direction: str) -> Config:
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, method_config('fdkd', 'vggsound', direction)))
    cfg.model.teacher_ckpt = None  # no trained teacher here
    return cfg


@pytest.mark.parametrize('direction', FDKD)
def test_vggsound_visual_network_folds_three_frames(direction):
    """3 frames per clip in every loader (paper A.2); the visual network
    folds them, and both sides record the one-frame layer path with no
    connector."""
    cfg = load_fdkd(direction)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loads = [
            t for t in getattr(cfg, loader).dataset.pipeline
            if t.type == 'fdkd.LoadFrames'
        ]
        assert [t.num_frames for t in loads] == [3], loader
    assert cfg.visual_model.backbone.type == 'fdkd.MultiFrameBackbone'
    # feature='auto' traces the folded network like the one-frame one
    with DefaultScope.overwrite_default_scope('fdkd'):
        distiller = MODELS.build(cfg.model).distiller_cfg
    for side in ('student', 'teacher'):
        assert distiller[f'{side}_recorders']['feat']['source'] == \
            'backbone.layer4.1.relu'
        assert distiller.get(f'{side}_connector') is None


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
    frames its losses are those of the single frame (4-D input: one row per
    clip already); with distinct frames the record is the clip mean."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = load_fdkd(direction)
        with DefaultScope.overwrite_default_scope('fdkd'):
            model = MODELS.build(cfg.model)
        n, k = 4, 3
        torch.manual_seed(0)
        frame = torch.randn(n, 3, 32, 32)
        batch = dict(
            audio=torch.randn(n, 1, 64, 48),
            visual=frame.unsqueeze(1).repeat(1, k, 1, 1, 1))  # (N, k, ...)
        samples = [
            DataSample().set_gt_label(i % cfg.num_classes) for i in range(n)
        ]
        model.train()
        # k equal frames: the records of the 4-D single frame
        per_frame = distill_losses(model.loss(batch, samples))
        per_clip = distill_losses(
            model.loss(dict(batch, visual=frame), samples))
        assert per_frame.keys() == per_clip.keys()
        for key, value in per_frame.items():
            assert value == pytest.approx(per_clip[key], rel=1e-4), key

        # distinct frames: the visual record is the clip mean of the
        # per-frame records, (N, C, H, W), before the distiller reads it
        frames = torch.randn(n, k, 3, 32, 32)
        model.loss(dict(batch, visual=frames), samples)
        side = 'teacher' if direction == 'audio_from_visual' else 'student'
        recorders = getattr(model.distiller, f'{side}_recorders')
        got = recorders.get_recorder('feat').get_record_data(data_idx=0)
        network = getattr(model, side)
        network.eval()  # BN on running statistics: frames independent
        with torch.no_grad(), recorders:
            network(frames.flatten(0, 1), mode='tensor')
        per_frame_rec = recorders.get_recorder('feat').get_record_data(
            data_idx=0)
        if side == 'teacher':  # a frozen teacher runs in eval mode anyway
            assert per_frame_rec.shape[0] == n * k
            torch.testing.assert_close(got, frame_mean(per_frame_rec, k),
                                       rtol=1e-4, atol=1e-5)
        assert got.shape[0] == n
        model.train()

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
