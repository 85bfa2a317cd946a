"""A fused teacher (teacher_modality=('audio', 'visual')): it gets the dict
of both modalities, its feature is recorded as any other, and the audio
student distills from it with feature='auto' on its own side."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from torch import nn

from fdkd_helpers import REPO_ROOT, paired_batch, sgd_steps, tiny_cfg_options
from fdkd_plugin.registry import MODELS

AV = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-'
                         'from-visual.py')


class Fused(BaseModel):
    """Both modalities, each through a conv and a pooling, concatenated
    (16 values) before a linear classifier."""

    def __init__(self):
        super().__init__()
        self.audio = nn.Sequential(nn.Conv2d(1, 8, 3), nn.AdaptiveAvgPool2d(1))
        self.visual = nn.Sequential(nn.Conv2d(3, 8, 3),
                                    nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(16, 10)
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        assert isinstance(inputs, dict), 'a fused teacher gets a dict'
        self.seen.append(sorted(inputs))
        feat = torch.cat([self.audio(inputs['audio']).flatten(1),
                          self.visual(inputs['visual']).flatten(1)], 1)
        return self.fc(feat)


pytestmark = pytest.mark.usefixtures('fdkd_scope')


def test_fused_teacher_trains(tiny_avdigits):
    cfg = Config.fromfile(AV)
    cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits))
    teacher = Fused().eval()
    before = copy.deepcopy(teacher.state_dict())
    model = MODELS.build(dict(
        type='fdkd.CrossModalDistill',
        architecture=cfg.model.architecture,
        teacher=teacher,
        student_modality='audio',
        teacher_modality=['audio', 'visual'],
        distiller=dict(
            type='fdkd.FreqDecoupledDistiller', feature='auto',
            in_channels=16,
            teacher_recorders=dict(feat=dict(type='mmrazor.ModuleInputs',
                                             source='fc')),
            teacher_feat=dict(recorder='feat', data_idx=0))))
    assert model.teacher_modality == ('audio', 'visual')
    # the student side traced, projected to the fused width
    assert tuple(model.distiller.student_connector.func.weight.shape) == (
        16, 256)
    data = paired_batch(model, cfg.train_dataloader.dataset)
    for losses in sgd_steps(model, data):
        assert torch.isfinite(losses['distill.loss_low'])
    assert teacher.seen == [['audio', 'visual']] * 2
    assert all(torch.equal(v, before[k])
               for k, v in teacher.state_dict().items())
    # what a fused teacher cannot have
    with pytest.raises(ValueError, match='fused teacher .* is not cached'):
        MODELS.build(dict(
            type='fdkd.CrossModalDistill',
            architecture=cfg.model.architecture, teacher=Fused(),
            student_modality='audio', teacher_modality=('audio', 'visual'),
            teacher_cache=dict(type='memory',
                               pipeline=cfg.train_dataloader.dataset.pipeline),
            distiller=dict(type='fdkd.FreqDecoupledDistiller', feature='auto',
                           in_channels=16, teacher_recorders=dict(
                               feat=dict(type='mmrazor.ModuleInputs',
                                         source='fc')),
                           teacher_feat=dict(recorder='feat', data_idx=0))))
    with pytest.raises(ValueError, match=r"teacher_modality=\('audio', ''\) "
                       'must be a non-empty str or a tuple'):
        MODELS.build(dict(
            type='fdkd.CrossModalDistill',
            architecture=cfg.model.architecture, teacher=Fused(),
            student_modality='audio', teacher_modality=('audio', ''),
            distiller=cfg.model.distiller))
