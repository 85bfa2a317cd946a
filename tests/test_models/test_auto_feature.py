"""feature='auto': the traced feature is the one the shipped configs name
(ResNet-18 both widths, DeepLabV3+), other families get theirs (MobileNetV2
and V3, EfficientNet, RegNet, ConvNeXt, ViT / DeiT, Swin; FCN, PSPNet,
UPerNet, SegFormer), widths are projected (a ViT teacher for a ResNet
student), explicit recorders win, and the losses of an auto config equal
the shipped config's."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

from fdkd_helpers import REPO_ROOT

from fdkd_plugin.models.algorithms.auto_feature import find_feature
from fdkd_plugin.registry import MODELS

AV = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-'
                         'from-visual.py')
NYU = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-'
                          'depth-from-rgb.py')


pytestmark = pytest.mark.usefixtures('fdkd_scope')


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


def _classifier(backbone, width, neck=True):
    return dict(
        _scope_='mmpretrain', type='ImageClassifier', backbone=backbone,
        neck=dict(type='GlobalAveragePooling') if neck else None,
        head=dict(type='LinearClsHead', num_classes=10, in_channels=width))


def _segmentor(backbone, head):
    return dict(
        _scope_='mmseg', type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor'),
        backbone=backbone, decode_head=dict(head, num_classes=5))


_R18 = dict(type='ResNetV1c', depth=18)
#: name: (network, input size, (source, kind, call, width)) of the traced
#: feature, the paper's rule applied to each family (module docstring of
#: fdkd_plugin/models/algorithms/auto_feature.py)
FAMILIES = {
    'resnet18': (_classifier(dict(type='ResNet', depth=18), 512), 64,
                 ('backbone.layer4.1.relu', 'ModuleInputs', 1, 512)),
    'mobilenet_v2': (_classifier(dict(type='MobileNetV2', widen_factor=0.5),
                                 1280), 64,
                     ('backbone.conv2.activate', 'ModuleInputs', 0, 1280)),
    'convnext': (_classifier(dict(type='ConvNeXt', arch='atto'), 320,
                             neck=False), 64,
                 ('backbone', 'ModuleOutputs', 0, 320)),
    'deeplabv3plus': (_segmentor(
        dict(_R18, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)),
        dict(type='DepthwiseSeparableASPPHead', in_channels=512,
             in_index=3, channels=64, dilations=(1, 12, 24, 36),
             c1_in_channels=64, c1_channels=12)), 64,
        ('decode_head.sep_bottleneck.1.pointwise_conv.activate',
         'ModuleInputs', 0, 64)),
    'mobilenet_v3': (_classifier(dict(type='MobileNetV3', arch='small'),
                                 576), 64,
                     ('backbone.layer12.activate', 'ModuleInputs', 0, 576)),
    # mmcv's Swish: an activation found by its class name
    'efficientnet': (_classifier(dict(type='EfficientNet', arch='b0'),
                                 1280), 64,
                     ('backbone.layers.6.activate', 'ModuleInputs', 0, 1280)),
    'regnet': (_classifier(dict(type='RegNet', arch='regnetx_400mf'), 384),
               64, ('backbone.layer4.11.relu', 'ModuleInputs', 2, 384)),
    # ViT / DeiT: the class token after the final norm, as the head sees it
    'vit_cls_token': (_classifier(
        dict(type='VisionTransformer', arch='deit-tiny', img_size=32,
             patch_size=8), 192, neck=False), 32,
        ('backbone', 'ModuleOutputs', 0, 192)),
    'vit_avg_patch_tokens': (_classifier(
        dict(type='VisionTransformer', arch='deit-tiny', img_size=32,
             patch_size=8, out_type='avg_featmap'), 192, neck=False), 32,
        ('backbone', 'ModuleOutputs', 0, 192)),
    'swin': (_classifier(
        dict(type='SwinTransformer', arch='tiny', img_size=64,
             window_size=2), 768), 64,
        ('backbone', 'ModuleOutputs', 0, 768)),
    'fcn': (_segmentor(dict(_R18, out_indices=(3, )),
                       dict(type='FCNHead', in_channels=512, channels=64,
                            in_index=0)), 64,
            ('decode_head.conv_cat.activate', 'ModuleInputs', 0, 64)),
    'pspnet': (_segmentor(dict(_R18, out_indices=(3, )),
                          dict(type='PSPHead', in_channels=512, channels=64,
                               in_index=0)), 64,
               ('decode_head.bottleneck.activate', 'ModuleInputs', 0, 64)),
    'upernet': (_segmentor(_R18, dict(
        type='UPerHead', in_channels=[64, 128, 256, 512],
        in_index=[0, 1, 2, 3], channels=64)), 64,
        ('decode_head.fpn_bottleneck.activate', 'ModuleInputs', 0, 64)),
    'segformer': (_segmentor(
        dict(type='MixVisionTransformer', embed_dims=32,
             num_layers=[1, 1, 1, 1], num_heads=[1, 2, 5, 8]),
        dict(type='SegformerHead', in_channels=[32, 64, 160, 256],
             in_index=[0, 1, 2, 3], channels=64)), 64,
        ('decode_head.fusion_conv.activate', 'ModuleInputs', 0, 64)),
}


@pytest.mark.parametrize('name', list(FAMILIES))
def test_each_family_gets_its_feature(name):
    cfg, size, (source, kind, call, width) = FAMILIES[name]
    torch.manual_seed(0)
    net = build(cfg)
    choice = find_feature(net, torch.randn(2, 3, size, size))
    assert (choice.source, choice.kind, choice.record_idx) == (source, kind,
                                                               call)
    assert choice.shape[1] == width


#: (teacher, student): different architectures, transformers and
#: MobileNets on both sides, and two decode heads for each segmentor side
PAIRS = [('resnet18', 'mobilenet_v2'), ('vit_cls_token', 'resnet18'),
         ('swin', 'mobilenet_v3'), ('convnext', 'efficientnet'),
         ('regnet', 'vit_avg_patch_tokens'), ('mobilenet_v2', 'swin'),
         ('efficientnet', 'convnext'), ('mobilenet_v3', 'regnet'),
         ('deeplabv3plus', 'fcn'), ('segformer', 'pspnet'),
         ('upernet', 'deeplabv3plus')]


@pytest.mark.parametrize('teacher,student', PAIRS,
                         ids=[f'{t}->{s}' for t, s in PAIRS])
def test_any_pair_distills_from_its_configs_alone(teacher, student):
    """FDKD between two architectures with no recorder string: the
    documented feature on each side, two SGD steps with finite losses, the
    frozen teacher bit-identical."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    (t_cfg, t_size, t_want), (s_cfg, s_size, s_want) = (FAMILIES[teacher],
                                                        FAMILIES[student])
    seg = 'decode_head' in s_cfg
    torch.manual_seed(0)
    model = build(dict(
        type='fdkd.CrossModalDistill', architecture=s_cfg, teacher=t_cfg,
        student_modality='b', teacher_modality='a',
        distiller=dict(type='fdkd.FreqDecoupledDistiller', feature='auto',
                       **(dict(pool=False, align=False, task_heads=False)
                          if seg else {}))))
    d = model.distiller
    for side, want in (('teacher', t_want), ('student', s_want)):
        rec = getattr(d, f'{side}_recorders').recorders['feat']
        assert (rec.source, type(rec).__name__) == (want[0],
                                                   want[1] + 'Recorder'), side
    assert d.in_channels == t_want[3]
    n = 2
    inputs = dict(a=torch.randn(n, 3, t_size, t_size),
                  b=torch.randn(n, 3, s_size, s_size))
    if seg:
        samples = [SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(0, 5, (1, s_size, s_size))))
            for _ in range(n)]
        for sample in samples:
            sample.set_metainfo(dict(img_shape=(s_size, s_size),
                                     ori_shape=(s_size, s_size)))
    else:
        samples = [DataSample().set_gt_label(i) for i in range(n)]
    teacher_before = {k: v.clone()
                      for k, v in model.teacher.state_dict().items()}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3)
    model.train()
    for _ in range(2):
        losses = model.loss(inputs, samples)
        for key in ('distill.loss_low', 'distill.loss_high'):
            assert torch.isfinite(losses[key]), key
        total, _ = model.parse_losses(losses)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    assert all(torch.equal(v, teacher_before[k])
               for k, v in model.teacher.state_dict().items())


def test_raw_tokens_are_refused_with_the_out_type_to_set():
    vit = build(_classifier(
        dict(type='VisionTransformer', arch='deit-tiny', img_size=32,
             patch_size=8, out_type='raw'), 192, neck=False))
    with pytest.raises(ValueError, match=r"token sequence \(2, 17, 192\).*"
                       r"out_type='cls_token'"):
        find_feature(vit, torch.randn(2, 3, 32, 32))


def test_a_vit_teacher_for_a_resnet_student():
    """Any teacher: a DeiT-tiny visual teacher (192-d class token) for the
    half-width ResNet-18 audio student (256-d), from feature='auto' alone:
    the student's feature is projected to 192, and the losses are finite."""
    cfg = auto_cfg()
    cfg.model.teacher = _classifier(
        dict(type='VisionTransformer', arch='deit-tiny', img_size=32,
             patch_size=8), 192, neck=False)
    model = build(cfg.model)
    d = model.distiller
    assert d.in_channels == 192
    assert tuple(d.student_connector.func.weight.shape) == (192, 256)
    assert d.teacher_recorders.recorders['feat'].source == 'backbone'
    inputs, samples = batch()
    model.train()
    losses = model.loss(inputs, samples)
    for key in ('distill.loss_low', 'distill.loss_high'):
        assert torch.isfinite(losses[key]) and losses[key] > 0


def test_deeplabv3plus_is_the_configured_decoder_feature():
    cfg = Config.fromfile(NYU)
    model = cfg.model.architecture
    model.backbone.init_cfg = None  # no download
    choice = find_feature(build(model))
    assert choice.source == \
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


def pinned(distiller: dict, source: str, record_idx: int,
           in_channels: int) -> dict:
    """``distiller`` with the recorders written out, as the base configs'
    comments pin them (and as they were written before auto)."""
    out = {k: v for k, v in distiller.items() if k != 'feature'}
    for side in ('student', 'teacher'):
        out[f'{side}_recorders'] = dict(
            feat=dict(type='mmrazor.ModuleInputs', source=source))
        out[f'{side}_feat'] = dict(recorder='feat', record_idx=record_idx,
                                   data_idx=0)
    out['in_channels'] = in_channels
    return out


def test_shipped_auto_config_equals_its_pinned_recorders():
    """The AV-digits FDKD config leaves the feature to 'auto': it resolves
    to the recorders, in_channels and num_classes the base's comment pins
    (configs/_base_/models/fdkd_resnet18.py, half width), with the same
    initial weights from the same seed, hence the same losses."""
    shipped = Config.fromfile(AV)
    shipped.model.teacher_ckpt = None
    assert shipped.model.distiller.feature == 'auto'
    fixed = Config.fromfile(AV)
    fixed.model.teacher_ckpt = None
    fixed.model.distiller = pinned(
        fixed.model.distiller.to_dict(), 'backbone.layer4.1.relu', 1, 256)
    torch.manual_seed(0)
    a = build(fixed.model)
    torch.manual_seed(0)
    b = build(shipped.model)
    assert b.distiller_cfg == a.distiller_cfg == fixed.model.distiller
    d = b.distiller
    assert (d.in_channels, d.num_classes) == (256, 10)
    assert d.student_connector is None
    for side in ('student', 'teacher'):
        rec = getattr(d, f'{side}_recorders').recorders['feat']
        assert rec.source == 'backbone.layer4.1.relu'
    # tracing draws nothing from the global RNG and the networks are built
    # where MMRazor builds them: the same initial weights, so a run gives
    # the same numbers (a 1-epoch AV-digits run logs identical losses)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    inputs, samples = batch()
    a.train()
    b.train()
    la, lb = a.loss(inputs, samples), b.loss(inputs, samples)
    assert la.keys() == lb.keys()
    for key in la:
        torch.testing.assert_close(la[key], lb[key], rtol=0, atol=0)


def _auto_cells():
    """(config, direction key or '') of every shipped distiller on auto."""
    cells = []
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'configs/fdkd/*.py'))):
        model = Config.fromfile(path).model
        parts = model.get('directions') or {'': model}
        cells += [(path, k) for k, m in parts.items()
                  if m.distiller.get('feature') == 'auto']
    return cells


AUTO_CELLS = _auto_cells()


@pytest.mark.parametrize(
    'path,part', AUTO_CELLS,
    ids=[osp.basename(p)[:-3] + (f'-{k}' if k else '')
         for p, k in AUTO_CELLS])
def test_every_shipped_auto_config_resolves_to_the_paper_feature(path, part):
    cfg = Config.fromfile(path)
    model = cfg.model.directions[part] if part else cfg.model
    model.teacher_ckpt = None
    for net in (model.architecture, model.teacher):
        net.get('backbone', {}).pop('init_cfg', None)  # no download
    algo = build(model)
    if 'decode_head' in model.architecture:  # DeepLabV3+, (N, 128, h, w)
        want = pinned(model.distiller.to_dict(),
                      'decode_head.sep_bottleneck.1.pointwise_conv.activate',
                      0, 128)
    else:  # ResNet-18: layer4's last ReLU, its second call
        width = model.teacher.head.in_channels
        want = pinned(model.distiller.to_dict(), 'backbone.layer4.1.relu',
                      1, width)
    got = algo.distiller_cfg
    # an added loss's recorders (FDKD + logit KD) stay beside the feature
    for side in ('student', 'teacher'):
        extra = {k: v for k, v in
                 (model.distiller.get(f'{side}_recorders') or {}).items()}
        want[f'{side}_recorders'] = dict(extra, **want[f'{side}_recorders'])
    assert got == want


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
