"""fdkd.MultiTeacherDistill: one student forward per step with every
teacher's recorders, each teacher's distill losses scaled by its share,
the student's own loss once, the teachers bit-identical."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from fdkd_helpers import REPO_ROOT, paired_batch, sgd_steps, tiny_cfg_options
from fdkd_plugin.models.algorithms.model_checks import gt_labels_of
from fdkd_plugin.registry import MODELS

AV = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-'
                         'from-visual.py')
MOBILENET = dict(
    _scope_='mmpretrain', type='ImageClassifier',
    backbone=dict(type='MobileNetV2', widen_factor=0.5),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=1280))


pytestmark = pytest.mark.usefixtures('fdkd_scope')


def test_two_teachers_one_student(tiny_avdigits):
    cfg = Config.fromfile(AV)
    cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits))
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='fdkd.MultiTeacherDistill',
        architecture=cfg.model.architecture,
        student_modality='audio',
        teachers=dict(
            resnet=dict(teacher=cfg.model.teacher, teacher_modality='visual',
                        distiller=cfg.model.distiller, weight=3),
            mobilenet=dict(teacher=MOBILENET, teacher_modality='visual',
                           distiller=dict(type='fdkd.FreqDecoupledDistiller',
                                          feature='auto'),
                           weight=1))))
    assert model.shares == dict(resnet=0.75, mobilenet=0.25)
    # one student, shared by both teachers' algorithms
    assert all(algo.student is model.student
               for algo in model.teachers.values())
    assert model.data_preprocessor.norm_cfg['visual']['mean'] == [
        123.675, 116.28, 103.53]
    student_calls = []
    model.student.backbone.register_forward_pre_hook(
        lambda *_: student_calls.append(1))
    teachers_before = {
        name: copy.deepcopy(algo.teacher.state_dict())
        for name, algo in model.teachers.items()
    }
    data = paired_batch(model, cfg.train_dataloader.dataset)
    for step, losses in enumerate(sgd_steps(model, data)):
        assert len(student_calls) == step + 1  # one student forward
        assert 'student.loss' in losses
        for name, share in model.shares.items():
            # the logged term is the teacher's own, scaled by its share
            own = model.teachers[name].distiller.compute_distill_losses(
                gt_labels_of(data['data_samples']))
            for term in ('loss_low', 'loss_high'):
                logged = losses[f'distill.{name}.{term}']
                assert torch.isfinite(logged)
                assert torch.allclose(logged, own[term] * share)
    for name, algo in model.teachers.items():
        assert all(torch.equal(v, teachers_before[name][k])
                   for k, v in algo.teacher.state_dict().items()), name
    # predictions are the student's
    model.eval()
    with torch.no_grad():
        out = model(**data, mode='tensor')
    assert out.shape == (4, 10)
    with pytest.raises(ValueError, match=r'teachers.resnet.weight=0'):
        MODELS.build(dict(
            type='fdkd.MultiTeacherDistill',
            architecture=cfg.model.architecture, student_modality='audio',
            teachers=dict(resnet=dict(teacher=cfg.model.teacher,
                                      teacher_modality='visual',
                                      distiller=cfg.model.distiller,
                                      weight=0))))
