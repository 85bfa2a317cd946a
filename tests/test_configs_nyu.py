"""The NYU-Depth V2 configs (unimodal RGB / depth, FDKD both directions):
the paper's settings, the model they build, one training step and a
prediction on a tiny converted data set, the recorded feature, and the
SyncBN decision of multi-process runs."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, MODELS, DefaultScope

from fdkd_helpers import REPO_ROOT, load_script
from fdkd_plugin.datasets import NYU40_CLASSES

UNIMODAL = {
    'rgb': 'configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-rgb.py',
    'depth': 'configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-depth.py'
}
FDKD = {
    ('depth', 'rgb'): 'configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-'
                      'from-rgb.py',
    ('rgb', 'depth'): 'configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-rgb-'
                      'from-depth.py'
}
ALL = [*UNIMODAL.values(), *FDKD.values()]
IN_CHANNELS = {'rgb': 3, 'depth': 1}


@pytest.fixture(scope='module')
def tiny_nyu(tmp_path_factory) -> str:
    nyu = load_script('tests/test_datasets/test_nyu_depth_v2.py')
    return str(nyu.convert_tiny(tmp_path_factory.mktemp('nyu_cfg')))


def load(path: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, path))


def offline(model_cfg: dict) -> dict:
    """No ImageNet download, no teacher checkpoint."""
    model_cfg = copy.deepcopy(model_cfg)
    nets = [model_cfg]
    if model_cfg['type'] == 'fdkd.CrossModalDistill':
        model_cfg['teacher_ckpt'] = None
        nets = [model_cfg['architecture'], model_cfg['teacher']]
    for net in nets:
        net['backbone']['init_cfg'] = None
    return model_cfg


def build(cfg: Config):
    with DefaultScope.overwrite_default_scope('fdkd'):
        return MODELS.build(offline(cfg.model))


def batch(cfg: Config, loader: str, root: str, n: int = 2) -> dict:
    ds_cfg = copy.deepcopy(cfg[loader].dataset)
    ds_cfg.data_root = root
    with DefaultScope.overwrite_default_scope('fdkd'):
        ds = DATASETS.build(ds_cfg)
    return pseudo_collate([ds[i] for i in range(n)])  # as the Runner


def test_paper_settings():
    for path in ALL:
        cfg = load(path)
        assert cfg.default_scope == 'fdkd'
        assert cfg.custom_imports.imports == ['fdkd_plugin']
        assert cfg.num_classes == 40
        # batch 16 = 4 per process x 4 processes; SGD 0.02 poly 0.9, 50 ep
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.auto_scale_lr.base_batch_size == 16
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == (
            'SGD', 0.02, 0.9, 5e-4)
        sched, = cfg.param_scheduler
        assert (sched.type, sched.power, sched.end) == ('PolyLR', 0.9, 50)
        assert cfg.train_cfg.max_epochs == 50
        assert cfg.sync_bn == 'torch'
        # the 654 test images are the validation set; selection on mIoU
        assert cfg.val_dataloader.dataset.ann_file == 'test.txt'
        assert cfg.train_dataloader.dataset.ann_file == 'train.txt'
        assert cfg.val_evaluator.type == 'mmseg.IoUMetric'
        assert cfg.default_hooks.checkpoint.save_best == 'mIoU'
        assert 'fdkd.SelectedCheckpointHook' in [
            h.type for h in cfg.custom_hooks
        ]
    for (student, teacher), path in FDKD.items():
        cfg = load(path)
        # the default work dir of the teacher's unimodal config
        stem = osp.splitext(osp.basename(UNIMODAL[teacher]))[0]
        assert cfg.model.teacher_ckpt == f'work_dirs/{stem}/selected.pth'
        assert cfg.val_cfg.type == 'fdkd.CrossModalValLoop'
        d = cfg.model.distiller
        assert (d.pool, d.align, d.task_heads) == (False, False, False)
        assert (d.freq, d.log, d.scale) == (True, True, True)
        # traced: (N, 128, H/4, W/4), test_models/test_auto_feature.py
        assert d.feature == 'auto'


@pytest.mark.parametrize('path', ALL, ids=[osp.basename(p)[:-3] for p in ALL])
def test_config_trains_and_predicts(path, tiny_nyu):
    cfg = load(path)
    model = build(cfg)
    distill = cfg.model.type == 'fdkd.CrossModalDistill'
    student = model.architecture if distill else model
    modality = model.student_modality if distill else \
        student.data_preprocessor.modality
    # DeepLabV3+ R18 as mmseg's r18-d8 configs; stem sized to the modality
    assert student.backbone.stem[0].in_channels == IN_CHANNELS[modality]
    head, aux = student.decode_head, student.auxiliary_head
    assert (head.in_channels, head.channels, head.num_classes) == (512, 128,
                                                                   40)
    assert head.c1_bottleneck.conv.in_channels == 64
    assert head.c1_bottleneck.conv.out_channels == 12
    assert (aux.in_channels, aux.channels) == (256, 64)
    assert aux.loss_decode.loss_weight == 0.4
    # plain BN by default (SyncBN only by the Runner, see below)
    assert type(head.bottleneck.norm) is torch.nn.BatchNorm2d
    # the pipelines pack exactly what the model consumes
    packed = cfg.train_dataloader.dataset.pipeline[-1]
    assert packed.type == 'fdkd.PackMultiModalInputs'
    # each network's pre-processor normalizes its modality and pads the
    # training crops; a distiller's takes both networks' over
    pre = model.data_preprocessor
    assert pre.pad_to == 'ori_shape'
    assert pre.norm_cfg['rgb']['std'] == [58.395, 57.12, 57.375]
    if distill:
        assert pre.modality is None
        assert pre.norm_cfg['depth'] == dict(mean=[0.5], std=[0.5])
        assert set(packed.modalities) == {'rgb', 'depth'}
        teacher = model.teacher
        assert teacher.backbone.stem[0].in_channels == IN_CHANNELS[
            model.teacher_modality]
    else:
        assert tuple(packed.modalities) == (modality, )

    # one training step on the tiny set (train pipeline, augmentations on)
    torch.manual_seed(0)
    np.random.seed(0)
    model.train()
    data = model.data_preprocessor(
        batch(cfg, 'train_dataloader', tiny_nyu), True)
    losses = model(**data, mode='loss')
    prefix = 'student.' if distill else ''
    for key in ('decode.loss_ce', 'aux.loss_ce'):
        assert torch.isfinite(losses[prefix + key])
    if distill:
        # segmentation samples carry no class labels, and the distiller
        # needs none (align=False, task_heads=False)
        from fdkd_plugin.models.algorithms.cross_modal_distill import \
            gt_labels_of
        assert gt_labels_of(data['data_samples']) is None
        # only the feature terms: no shared or task heads for segmentation
        assert {k for k in losses if k.startswith('distill.')} == {
            'distill.loss_low', 'distill.loss_high'
        }
        # sum_per_sample of standardized maps: 2 - 2r in [0, 4]
        assert 0 < losses['distill.loss_low'].item() < 4
        assert 0 < losses['distill.loss_high'].item() < 4
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert student.backbone.stem[0].weight.grad.abs().sum() > 0
    if distill:
        assert all(p.grad is None for p in model.teacher.parameters())

    # prediction (test pipeline): a full-size map per image
    model.eval()
    test = batch(cfg, 'val_dataloader', tiny_nyu)
    with torch.no_grad():
        preds = model.val_step(test)
    assert [p.pred_sem_seg.data.shape for p in preds] == [(1, 48, 64)] * 2
    assert all(0 <= p.pred_sem_seg.data.min() and p.pred_sem_seg.data.max() <
               40 for p in preds)
    # mmseg's IoUMetric through MMEngine's Evaluator, as the val loops run
    # it, for the student and (CrossModalValLoop) the teacher
    from mmengine.evaluator import Evaluator
    from mmseg.evaluation import IoUMetric
    evaluator = Evaluator(IoUMetric())
    evaluator.dataset_meta = dict(classes=NYU40_CLASSES)
    evaluator.process(data_samples=preds, data_batch=test)
    assert 0 <= evaluator.evaluate(2)['mIoU'] <= 100
    if distill:
        data = model.data_preprocessor(
            batch(cfg, 'val_dataloader', tiny_nyu), False)
        teacher_preds = model.teacher_predict(**data)
        assert teacher_preds[0].pred_sem_seg.data.shape == (1, 48, 64)
        evaluator.process(data_samples=teacher_preds, data_batch=test)
        assert 0 <= evaluator.evaluate(2)['mIoU'] <= 100


def test_recorded_feature_is_the_pre_relu_decoder_feature(tiny_nyu):
    cfg = load(FDKD[('depth', 'rgb')])
    model = build(cfg).eval()
    data = model.data_preprocessor(
        batch(cfg, 'val_dataloader', tiny_nyu), False)
    seen = {}
    handles = [
        net.decode_head.conv_seg.register_forward_hook(
            lambda m, inputs, out, side=side: seen.__setitem__(
                side, inputs[0].detach().clone()))
        for side, net in (('student', model.student), ('teacher',
                                                       model.teacher))
    ]
    with model.distiller.student_recorders, \
            model.distiller.teacher_recorders:
        model.teacher(data['inputs']['rgb'], data['data_samples'],
                      mode='tensor')
        model.student(data['inputs']['depth'], data['data_samples'],
                      mode='tensor')
        records = {
            side: model.distiller._recorded(
                getattr(model.distiller, f'{side}_feat'), side == 'student')
            for side in ('student', 'teacher')
        }
    for h in handles:
        h.remove()
    for side, feat in records.items():
        assert feat.shape == (2, 128, 12, 16)  # (N, C, H/4, W/4), unpooled
        assert (feat < 0).any()  # before the ReLU
        # conv_seg (after eval-mode dropout, i.e. none) sees ReLU(record)
        torch.testing.assert_close(torch.relu(feat), seen[side])


def test_sync_bn_only_with_cuda(monkeypatch):
    import mmengine.logging
    from mmengine.model import convert_sync_batchnorm

    from fdkd_plugin import compat
    from fdkd_plugin.utils import cli
    monkeypatch.setattr(compat, 'init_cpu_distributed',
                        lambda *args, **kwargs: True)
    logged = []
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, *args, **kwargs: logged.append(msg))
    path = FDKD[('depth', 'rgb')]

    # CPU (gloo): SyncBN cannot run, so it is dropped, with a log line
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = load(path)
    cfg.launcher = 'pytorch'
    cfg = cli.setup_distributed(cfg)
    assert cfg.sync_bn is None
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'fdkd.CPUDistributedDataParallel'
    assert logged == [
        'sync_bn needs CUDA; training with per-process BN on CPU'
    ]

    # CUDA: the config's sync_bn stays, and MMEngine's Runner converts every
    # BN of both networks (it calls convert_sync_batchnorm when distributed)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = load(path)
    cfg.launcher = 'pytorch'
    cfg = cli.setup_distributed(cfg)
    assert cfg.sync_bn == 'torch'
    assert cfg.get('model_wrapper_cfg') is None
    assert len(logged) == 1  # nothing more logged
    model = build(cfg)
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    model = convert_sync_batchnorm(model, cfg.sync_bn)
    n_sync = sum(
        isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    assert n_sync == n_bn > 0
    assert not any(type(m) is torch.nn.BatchNorm2d for m in model.modules())

    # a single process (no launcher) is left alone
    cfg = load(path)
    cfg.launcher = 'none'
    assert cli.setup_distributed(cfg).sync_bn == 'torch'


def test_hha_switch_of_the_docs(tiny_nyu):
    """docs/nyu_depth_v2.md: the --cfg-options that switch the depth
    network to 3-channel HHA images."""
    import shutil
    hha_dir = osp.join(tiny_nyu, 'hha')
    if not osp.isdir(hha_dir):  # any 8-bit 3-channel images will do
        shutil.copytree(osp.join(tiny_nyu, 'rgb'), hha_dir)
    cfg = load(UNIMODAL['depth'])
    opts = {'model.backbone.in_channels': 3}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.dataset.pipeline.0.depth_encoding'] = 'hha'
        opts[f'{loader}.dataset.data_prefix.depth_path'] = 'hha'
    cfg.merge_from_dict(opts)
    doc = open(osp.join(REPO_ROOT, 'docs', 'nyu_depth_v2.md')).read()
    for key, value in opts.items():
        assert f'{key}={value}' in doc
    model = build(cfg)
    assert model.backbone.stem[0].in_channels == 3
    data = model.data_preprocessor(
        batch(cfg, 'val_dataloader', tiny_nyu), False)
    assert data['inputs'].shape == (2, 3, 48, 64)
    assert data['data_samples'][0].depth_path.endswith(
        osp.join('hha', '0002.png'))
    with torch.no_grad():
        assert model(**data, mode='tensor').shape == (2, 40, 12, 16)
