"""fdkd.LabelledDistiller: labels reach the losses that take ``gt_label`` by
argument (DKD, NKD, C2KD), with no recorder on the student head's loss
module; other losses are MMRazor's as they were."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from fdkd_helpers import REPO_ROOT

from fdkd_plugin import experiments
from fdkd_plugin.models.losses.dkd_loss import dkd_loss
from fdkd_plugin.registry import MODELS

LOGITS = dict(type='mmrazor.ModuleOutputs', source='fc')


class Net(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(x)


def build(**mappings):
    distiller = MODELS.build(
        dict(
            type='fdkd.LabelledDistiller',
            student_recorders=dict(logits=LOGITS),
            teacher_recorders=dict(logits=LOGITS),
            distill_losses=dict(
                loss_dkd=dict(type='fdkd.DKDLoss', alpha=1.0, beta=0.5,
                              tau=2.0, reduction='batchmean'),
                loss_kl=dict(type='mmrazor.KLDivergence', tau=2.0)),
            loss_forward_mappings=dict(
                loss_dkd=dict(
                    student_logits=dict(from_student=True,
                                        recorder='logits'),
                    teacher_logits=dict(from_student=False,
                                        recorder='logits'),
                    **mappings),
                loss_kl=dict(
                    preds_S=dict(from_student=True, recorder='logits'),
                    preds_T=dict(from_student=False, recorder='logits')))))
    student, teacher = Net(), Net()
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    return distiller, student, teacher


def record(distiller, student, teacher, x):
    with distiller.student_recorders, distiller.teacher_recorders:
        s, t = student(x), teacher(x)
    return s, t


def test_labels_go_to_the_losses_that_take_them():
    torch.manual_seed(0)
    distiller, student, teacher = build()
    assert distiller.label_losses == ('loss_dkd', )
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 4, 0])
    s, t = record(distiller, student, teacher, x)
    losses = distiller.compute_distill_losses(gt_label=y)
    torch.testing.assert_close(
        losses['loss_dkd'],
        dkd_loss(s, t, y, 1.0, 0.5, 2.0, reduction='batchmean'))
    # the label-free loss is MMRazor's: tau^2 KL(softmax(t/tau) || ...)
    p_t = torch.softmax(t / 2, 1)
    kl = (p_t * (p_t.log() - torch.log_softmax(s / 2, 1))).sum(1).mean() * 4
    torch.testing.assert_close(losses['loss_kl'], kl)
    # other labels, another DKD value: the argument is what is used
    other = distiller.compute_distill_losses(gt_label=(y + 1) % 5)
    assert not torch.allclose(other['loss_dkd'], losses['loss_dkd'])
    with pytest.raises(ValueError, match=r"\['loss_dkd'\] take the class"):
        distiller.compute_distill_losses()


def test_an_explicit_label_mapping_still_wins():
    """MMRazor's own route (a recorder) stays usable: that loss is then not
    given the argument."""
    distiller, student, teacher = build(
        gt_label=dict(from_student=True, recorder='logits'))
    assert distiller.label_losses == ()


@pytest.mark.parametrize('method', ['dkd', 'nkd', 'c2kd'])
def test_baselines_get_labels_without_the_student_loss(method):
    """The shipped DKD / NKD / C2KD children record no label and still see
    the batch's labels when the student computes no task loss
    (calculate_student_loss=False), which the old loss-module recorder
    could not."""
    cfg = Config.fromfile(osp.join(
        REPO_ROOT,
        experiments.method_config(method, 'avdigits', 'audio_from_visual')))
    distiller = cfg.model.distiller
    assert distiller.type == 'fdkd.LabelledDistiller'
    assert 'gt_label' not in distiller.student_recorders
    cfg.model.teacher_ckpt = None
    cfg.model.calculate_student_loss = False
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(cfg.model)
    assert model.distiller.label_losses == (f'loss_{method}', )
    torch.manual_seed(0)
    n = 4
    inputs = dict(audio=torch.randn(n, 1, 32, 24),
                  visual=torch.randn(n, 3, 32, 32))
    samples = [DataSample().set_gt_label(i % 10) for i in range(n)]
    model.train()
    losses = model.loss(inputs, samples)
    assert 'student.loss' not in losses
    value = losses[f'distill.loss_{method}']
    assert torch.isfinite(value).all() and value > 0
