"""Networks named by their model-zoo configs (cfg_path): the upstream model
with the channel / class overrides, fdkd's pre-processor normalizing with
the upstream statistics, batch augments left out, and a distillation that
runs from feature='auto' with no other wiring."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

from fdkd_helpers import REPO_ROOT
from fdkd_plugin.models.algorithms.zoo import zoo_network_cfg
from fdkd_plugin.registry import MODELS

AV = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-'
                         'from-visual.py')
CONVNEXT = 'mmpretrain::convnext/convnext-tiny_32xb128_in1k.py'
SEGFORMER = 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'
IMAGENET = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


pytestmark = pytest.mark.usefixtures('fdkd_scope')


def test_classifier_from_the_model_zoo():
    cfg = zoo_network_cfg(
        dict(cfg_path=CONVNEXT, in_channels=1, num_classes=10,
             backbone=dict(drop_path_rate=0.0)), 'audio', 'model.teacher')
    assert cfg['_scope_'] == 'mmpretrain' and cfg['type'] == 'ImageClassifier'
    assert cfg['backbone'] == dict(type='ConvNeXt', arch='tiny',
                                   drop_path_rate=0.0, in_channels=1)
    assert cfg['head']['num_classes'] == 10
    # a 1-channel input is not ImageNet's RGB: no upstream normalization
    assert cfg['data_preprocessor'] == dict(
        type='fdkd.MultiModalDataPreprocessor', modality='audio')
    rgb = zoo_network_cfg(dict(cfg_path=CONVNEXT), 'visual', 'model.teacher')
    assert rgb['data_preprocessor']['norm_cfg'] == dict(visual=IMAGENET)
    # ImageNet's Mixup / CutMix would mix the pairs: left out
    assert 'augments' not in cfg.get('train_cfg', {})
    net = MODELS.build(cfg)
    assert net.backbone.downsample_layers[0][0].in_channels == 1
    assert net.head.fc.out_features == 10
    assert net.data_preprocessor.modality == 'audio'


def test_segmentor_from_the_model_zoo():
    cfg = zoo_network_cfg(
        dict(cfg_path=SEGFORMER, num_classes=40,
             backbone=dict(init_cfg=None)), 'rgb', 'model.teacher')
    assert cfg['_scope_'] == 'mmseg'
    assert cfg['decode_head']['num_classes'] == 40
    assert cfg['backbone']['init_cfg'] is None  # offline: no download
    pre = cfg['data_preprocessor']
    assert pre['pad_to'] == (512, 512) and pre['norm_cfg'] == dict(
        rgb=IMAGENET)
    net = MODELS.build(cfg)
    assert net.decode_head.conv_seg.out_channels == 40


def test_bad_cfg_path_names_the_key():
    with pytest.raises(ValueError, match=r"model.teacher.cfg_path="
                       r"'mmpretrain::nope.py' cannot be loaded"):
        zoo_network_cfg(dict(cfg_path='mmpretrain::nope.py'), 'visual',
                        'model.teacher')


def test_a_zoo_teacher_distills_with_no_wiring():
    """The AV-digits student with mmpretrain's ResNet-18 ImageNet config as
    the visual teacher, 10 classes, feature='auto': records, widths,
    projection and the paired normalization all come from the configs."""
    cfg = Config.fromfile(AV)
    cfg.model.teacher_ckpt = None
    cfg.model.teacher = dict(
        cfg_path='mmpretrain::resnet/resnet18_8xb32_in1k.py', num_classes=10)
    cfg.model.distiller = dict(type='fdkd.FreqDecoupledDistiller',
                               feature='auto')
    model = MODELS.build(cfg.model)
    d = model.distiller
    assert d.teacher_recorders.recorders['feat'].source == \
        'backbone.layer4.1.relu'
    assert d.in_channels == 512  # full-width teacher, half-width student
    assert tuple(d.student_connector.func.weight.shape) == (512, 256)
    assert model.data_preprocessor.norm_cfg == dict(visual=IMAGENET)
    torch.manual_seed(0)
    frames = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    data = model.data_preprocessor(
        dict(inputs=dict(audio=list(torch.randn(4, 1, 64, 48)),
                         visual=list(frames)),
             data_samples=[DataSample().set_gt_label(i) for i in range(4)]),
        True)
    model.train()
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['distill.loss_low'])
    assert losses['distill.loss_low'] > 0
