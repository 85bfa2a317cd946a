"""feature='auto': the traced feature is the one the shipped configs name
(ResNet-18 both widths, DeepLabV3+), other families get theirs (MobileNetV2,
ConvNeXt), widths are projected, explicit recorders win, and the losses of
an auto config equal the shipped config's."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from fdkd_helpers import REPO_ROOT

from fdkd_plugin.models.algorithms.auto_feature import find_feature
from fdkd_plugin.registry import MODELS

AV = osp.join(REPO_ROOT, 'configs/fdkd/avdigits_audio_from_visual.py')
NYU = osp.join(REPO_ROOT, 'configs/fdkd/nyu_depth_from_rgb.py')


@pytest.fixture(autouse=True)
def fdkd_scope():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with DefaultScope.overwrite_default_scope('fdkd'):
        yield
    torch.set_num_threads(threads)


def build(cfg):
    return MODELS.build(cfg)


def test_resnet18_is_the_configured_feature_and_bn_stays():
    cfg = Config.fromfile(AV)
    net = build(cfg.model.architecture)
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    choice = find_feature(net)
    assert (choice.source, choice.kind, choice.record_idx,
            choice.data_idx) == ('backbone.layer4.1.relu', 'ModuleInputs', 1,
                                 0)
    assert choice.shape[:2] == (2, 256)  # half width, (N, C, h, w)
    # traced in eval mode: no running statistic moved, mode restored
    assert net.training
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


def test_other_families():
    mobilenet = build(dict(
        _scope_='mmpretrain',  # the model zoo's names, as its configs
        type='ImageClassifier',
        backbone=dict(type='MobileNetV2', widen_factor=0.5),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=1280)))
    choice = find_feature(mobilenet)
    assert (choice.source, choice.kind, choice.record_idx) == (
        'backbone.conv2.activate', 'ModuleInputs', 0)
    assert choice.shape[1] == 1280
    convnext = build(dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=dict(type='ConvNeXt', arch='atto'),  # pools itself
        head=dict(type='LinearClsHead', num_classes=10, in_channels=320)))
    choice = find_feature(convnext)  # ends with a norm: its last output
    assert (choice.source, choice.kind, choice.data_idx) == (
        'backbone', 'ModuleOutputs', -1)
    assert choice.shape == (2, 320)
    with pytest.raises(ValueError, match='needs a classifier with a backbone'):
        find_feature(torch.nn.Linear(3, 4))


def test_deeplabv3plus_is_the_configured_decoder_feature():
    cfg = Config.fromfile(NYU)
    model = cfg.model.architecture
    model.backbone.init_cfg = None  # no download
    choice = find_feature(build(model))
    want = cfg.model.distiller.student_recorders.feat.source
    assert choice.source == want == \
        'decode_head.sep_bottleneck.1.pointwise_conv.activate'
    assert (choice.kind, choice.record_idx, choice.shape[1]) == (
        'ModuleInputs', 0, 128)


def auto_cfg(**distiller):
    cfg = Config.fromfile(AV)
    cfg.model.teacher_ckpt = None
    cfg.model.distiller = dict(
        type='fdkd.FreqDecoupledDistiller', feature='auto', **distiller)
    return cfg


def batch(n=4):
    torch.manual_seed(3)
    inputs = dict(audio=torch.randn(n, 1, 64, 48),
                  visual=torch.randn(n, 3, 32, 32))
    return inputs, [DataSample().set_gt_label(i % 10) for i in range(n)]


def test_auto_config_equals_the_shipped_one():
    """Nothing but feature='auto' in the distiller: the same recorders,
    in_channels and num_classes as configs/_base_/models/fdkd_resnet18.py
    (+ AV-digits' half width), hence the same losses."""
    shipped = Config.fromfile(AV)
    shipped.model.teacher_ckpt = None
    torch.manual_seed(0)
    a = build(shipped.model)
    torch.manual_seed(0)
    b = build(auto_cfg().model)
    d = b.distiller
    assert (d.in_channels, d.num_classes) == (256, 10)
    assert d.student_connector is None
    for side in ('student', 'teacher'):
        rec = getattr(d, f'{side}_recorders').recorders['feat']
        assert rec.source == 'backbone.layer4.1.relu'
        assert getattr(d, f'{side}_feat') == dict(
            recorder='feat', record_idx=1, data_idx=0)
    b.load_state_dict(a.state_dict())
    inputs, samples = batch()
    a.train()
    b.train()
    la, lb = a.loss(inputs, samples), b.loss(inputs, samples)
    assert la.keys() == lb.keys()
    for key in la:
        torch.testing.assert_close(la[key], lb[key])


def test_widths_differ_projection_and_explicit_recorders_win():
    cfg = auto_cfg()
    # a full-width teacher (512) for the half-width student (256)
    cfg.model.teacher.backbone = dict(
        type='mmpretrain.ResNet', depth=18, in_channels=3,
        out_indices=(3, ))
    cfg.model.teacher.head.in_channels = 512
    model = build(cfg.model)
    d = model.distiller
    assert d.in_channels == 512
    assert tuple(d.student_connector.func.weight.shape) == (512, 256)
    inputs, samples = batch()
    model.train()
    losses = model.loss(inputs, samples)
    assert torch.isfinite(losses['distill.loss_low'])
    # an explicit side is kept (and not traced)
    mine = dict(feat=dict(type='mmrazor.ModuleOutputs',
                          source='backbone.layer4'))
    cfg = auto_cfg(student_recorders=mine,
                   student_feat=dict(recorder='feat', data_idx=None))
    model = build(cfg.model)
    rec = model.distiller.student_recorders.recorders['feat']
    assert rec.source == 'backbone.layer4'
    assert model.distiller.teacher_recorders.recorders['feat'].source == \
        'backbone.layer4.1.relu'
    # a recorder of another loss (FDKD + logit KD) stays beside the traced
    logits = dict(logits=dict(type='mmrazor.ModuleOutputs', source='head.fc'))
    cfg = auto_cfg(teacher_recorders=logits)
    recorders = build(cfg.model).distiller.teacher_recorders.recorders
    assert sorted(recorders) == ['feat', 'logits']
    assert recorders['feat'].source == 'backbone.layer4.1.relu'


def test_auto_outside_the_algorithm_is_named():
    with pytest.raises(ValueError, match=r"feature='auto' is resolved by "
                       r'fdkd.CrossModalDistill'):
        MODELS.build(dict(type='fdkd.FreqDecoupledDistiller',
                          feature='auto', num_classes=10, in_channels=8))
