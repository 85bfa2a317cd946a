"""Every shipped config loads, names existing parts and builds its model."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from fdkd_plugin.config_names import parse
from fdkd_plugin.experiments import (directions_of, method_config,
                                     unimodal_config)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# classification configs with one student; the segmentation configs
# (NYU) are covered by test_configs_nyu.py, the two-student
# fdkd_..._avdigits-bidirectional by test_models/test_bidirectional.py
CONFIGS = sorted(
    c for c in glob.glob(osp.join(ROOT, 'configs', 'unimodal', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'fdkd', '*.py'))
    if parse(c).dataset != 'nyu' and parse(c).extra != 'bidirectional')


def test_configs_exist_for_every_av_pair():
    for ds in ('avdigits', 'crema_d', 'ave', 'vggsound'):
        for m in ('audio', 'visual'):
            assert osp.join(ROOT, unimodal_config(ds, m)) in CONFIGS
        for direction, _, _ in directions_of(ds):
            assert osp.join(ROOT, method_config('fdkd', ds,
                                                direction)) in CONFIGS


def _offline_text_encoder(model_cfg):
    """A hub text encoder cannot be loaded offline: build it from the
    BertConfig defaults (BERT-base widths, 768) with one layer, randomly."""
    for net in (model_cfg, model_cfg.get('architecture'),
                model_cfg.get('teacher')):
        if net is not None and net.get('type') == 'fdkd.TextClassifier':
            net.update(pretrained=None, config=dict(num_hidden_layers=1))


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.basename(c)[:-3] for c in CONFIGS])
def test_config_builds_its_model(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'fdkd'
    assert cfg.custom_imports.imports == ['fdkd_plugin']
    model_cfg = cfg.model
    if model_cfg.type == 'fdkd.CrossModalDistill':
        model_cfg.teacher_ckpt = None  # not trained here
        assert model_cfg.teacher_modality != model_cfg.student_modality
        assert cfg.val_cfg.type == 'fdkd.CrossModalValLoop'
    _offline_text_encoder(model_cfg)
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(model_cfg)
    n_classes = cfg.num_classes
    student = getattr(model, 'student', model)
    assert student.head.num_classes == n_classes
    # the pipelines pack exactly the modalities the model consumes
    packed = cfg.train_dataloader.dataset.pipeline[-1]
    assert packed.type == 'fdkd.PackMultiModalInputs'
    if model_cfg.type == 'fdkd.CrossModalDistill':
        assert set(packed.modalities) == {
            model_cfg.student_modality, model_cfg.teacher_modality}
        assert model.distiller.num_classes == n_classes
    else:
        assert tuple(packed.modalities) == (
            student.data_preprocessor.modality, )
    # the recorded layer exists in both networks
    if model_cfg.type == 'fdkd.CrossModalDistill':
        for side in ('student', 'teacher'):
            recorders = getattr(model.distiller, f'{side}_recorders')
            for recorder in recorders.recorders.values():
                net = getattr(model, side)
                names = dict(net.named_modules())
                assert recorder.source in names, recorder.source
    assert all(torch.isfinite(p).all() for p in student.parameters())
