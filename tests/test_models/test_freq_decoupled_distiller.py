"""FreqDecoupledDistiller: every loss term against a direct computation, and
the effect of each switch of the paper's Table 3 / Table 4."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from fdkd_plugin.frequency import frequency_split, signed_log, standardize
from fdkd_plugin.registry import MODELS

N, D, C = 6, 16, 4


class Toy(nn.Module):
    """A 'network' whose recorded feature is ``backbone.fc``'s output."""

    def __init__(self, width: int = D) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.fc = nn.Linear(8, width)

    def forward(self, x):
        return self.backbone.fc(x)


def build(**overrides):
    cfg = dict(
        type='fdkd.FreqDecoupledDistiller',
        num_classes=C,
        in_channels=D,
        student_recorders=dict(
            feat=dict(type='mmrazor.ModuleOutputs', source='backbone.fc')),
        teacher_recorders=dict(
            feat=dict(type='mmrazor.ModuleOutputs', source='backbone.fc')))
    cfg.update(overrides)
    return MODELS.build(cfg)


def run(distiller, student, teacher, xs, xt, labels):
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    with distiller.teacher_recorders, torch.no_grad():
        teacher(xt)
    with distiller.student_recorders:
        student(xs)
    return distiller.compute_distill_losses(gt_label=labels)


@pytest.fixture
def batch():
    torch.manual_seed(0)
    return torch.randn(N, 8), torch.randn(N, 8), torch.randint(0, C, (N, ))


def test_full_method_terms_match_the_equations(batch):
    xs, xt, y = batch
    student, teacher = Toy(), Toy()
    distiller = build()
    losses = run(distiller, student, teacher, xs, xt, y)
    assert set(losses) == {
        'loss_low', 'loss_high', 'loss_align_low_student',
        'loss_align_low_teacher', 'loss_align_high_student',
        'loss_align_high_teacher', 'loss_task_low', 'loss_task_high'
    }
    fs, ft = student(xs), teacher(xt)
    s, t = frequency_split(fs), frequency_split(ft)
    # Eq. 8: mean squared difference of standardized low bands
    low = ((standardize(s.low) - standardize(t.low))**2).mean()
    torch.testing.assert_close(losses['loss_low'], low)
    # Eq. 9: same on signed-log of standardized high bands
    high = ((signed_log(standardize(s.high)) -
             signed_log(standardize(t.high)))**2).mean()
    torch.testing.assert_close(losses['loss_high'], high)
    # Eq. 10: one shared classifier per band sees both modalities
    head = distiller.align_heads['low']
    torch.testing.assert_close(losses['loss_align_low_student'],
                               F.cross_entropy(head(s.low), y))
    torch.testing.assert_close(losses['loss_align_low_teacher'],
                               F.cross_entropy(head(t.low, 'teacher'), y))
    torch.testing.assert_close(
        losses['loss_task_high'],
        F.cross_entropy(distiller.task_heads['high'](s.high), y))


def test_identical_features_give_zero_feature_losses(batch):
    xs, _, y = batch
    student = Toy()
    teacher = Toy()
    teacher.load_state_dict(student.state_dict())
    losses = run(build(), student, teacher, xs, xs, y)
    assert losses['loss_low'].item() == pytest.approx(0, abs=1e-10)
    assert losses['loss_high'].item() == pytest.approx(0, abs=1e-10)


def test_gradients_reach_student_and_heads_not_teacher(batch):
    xs, xt, y = batch
    student, teacher = Toy(), Toy()
    distiller = build()
    losses = run(distiller, student, teacher, xs, xt, y)
    sum(losses.values()).backward()
    assert student.backbone.fc.weight.grad.abs().sum() > 0
    assert teacher.backbone.fc.weight.grad is None
    for band in ('low', 'high'):
        assert distiller.align_heads[band].fc.weight.grad.abs().sum() > 0
        assert distiller.task_heads[band].fc.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('switch, absent, present', [
    (dict(freq=False, log=False), {'loss_low', 'loss_high', 'loss_task_low'},
     {'loss_raw', 'loss_align_raw_student'}),
    (dict(align=False), {'loss_align_low_student'}, {'loss_low'}),
    (dict(use_low=False), {'loss_low'}, {'loss_high'}),
    (dict(use_high=False), {'loss_high'}, {'loss_low'}),
    (dict(task_heads=False), {'loss_task_low', 'loss_task_high'},
     {'loss_low'}),
])
def test_switches_remove_terms(batch, switch, absent, present):
    losses = run(build(**switch), Toy(), Toy(), *batch)
    assert not absent & set(losses)
    assert present <= set(losses)


def test_scale_and_log_switches_change_the_formula(batch):
    xs, xt, y = batch
    student, teacher = Toy(), Toy()
    fs, ft = student(xs), teacher(xt)
    s, t = frequency_split(fs), frequency_split(ft)
    no_scale = run(build(scale=False), student, teacher, xs, xt, y)
    # Eq. 4 / Eq. 5: no standardization
    torch.testing.assert_close(no_scale['loss_low'], F.mse_loss(s.low, t.low))
    torch.testing.assert_close(
        no_scale['loss_high'],
        F.mse_loss(signed_log(s.high), signed_log(t.high)))
    no_log = run(build(log=False), student, teacher, xs, xt, y)
    torch.testing.assert_close(
        no_log['loss_high'],
        F.mse_loss(standardize(s.high), standardize(t.high)))
    full = run(build(), student, teacher, xs, xt, y)
    assert not torch.isclose(full['loss_high'], no_log['loss_high'])


def test_lambdas_scale_their_terms(batch):
    student, teacher = Toy(), Toy()
    base = run(build(), student, teacher, *batch)
    scaled = run(
        build(lambda_low=3.0, lambda_high=0.5, align_weight=2.0), student,
        teacher, *batch)
    torch.testing.assert_close(scaled['loss_low'], 3 * base['loss_low'])
    torch.testing.assert_close(scaled['loss_high'], 0.5 * base['loss_high'])


def test_width_mismatch_names_both_shapes_and_the_key(batch):
    xs, xt, y = batch
    distiller = build()
    with pytest.raises(ValueError, match=r'\(6, 10\).*\(6, 16\).*'
                       r'student_connector'):
        run(distiller, Toy(width=10), Toy(), xs, xt, y)


def test_student_connector_projects_to_the_teacher_width(batch):
    xs, xt, y = batch
    distiller = build(
        student_connector=dict(
            type='mmrazor.TorchNNConnector',
            module_name='Linear',
            module_args=dict(in_features=10, out_features=D)))
    student = Toy(width=10)
    losses = run(distiller, student, Toy(), xs, xt, y)
    sum(losses.values()).backward()
    proj = distiller.student_connector
    assert next(proj.parameters()).grad.abs().sum() > 0
    assert student.backbone.fc.weight.grad.abs().sum() > 0


def test_pooled_maps_and_labels_required(batch):
    xs, xt, _ = batch
    distiller = build()
    with pytest.raises(ValueError, match='needs gt_label'):
        run(distiller, Toy(), Toy(), xs, xt, None)
    losses = run(build(align=False, task_heads=False), Toy(), Toy(), xs, xt,
                 None)
    assert set(losses) == {'loss_low', 'loss_high'}


@pytest.mark.parametrize('bad, match', [
    (dict(cutoff=1.5), r'cutoff=1.5'),
    (dict(num_classes=1), r'num_classes=1'),
    (dict(freq=False), r'log=True needs freq=True'),
    (dict(lambda_low=-1), r'lambda_low=-1'),
    (dict(freq=False, log=False, use_low=False), r'one raw band'),
    (dict(student_feat=dict(recorder='nope')), r"'nope' is not in"),
])
def test_bad_config_values_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        build(**bad)


def test_teacher_connector_maps_the_teacher_feature(batch):
    """Rows that do not match (a batch mismatch) are named; a connector's
    output (a projection of a narrower teacher feature) is what the split
    and the losses see."""
    xs, _, y = batch
    torch.manual_seed(1)
    frames = torch.randn(N * 3, 8)
    student, teacher = Toy(), Toy()
    with pytest.raises(ValueError, match=r"\(6, 16\).*\(18, 16\).*"
                       r"same batch"):
        run(build(), student, teacher, xs, frames, y)
    xt = frames[:N]
    projected = build(
        teacher_connector=dict(
            type='mmrazor.TorchNNConnector',
            module_name='Linear',
            module_args=dict(in_features=10, out_features=D)))
    narrow = Toy(width=10)
    losses = run(projected, student, narrow, xs, xt, y)
    with torch.no_grad():
        ft = projected.teacher_connector(narrow(xt))
        s, t = frequency_split(student(xs)), frequency_split(ft)
    torch.testing.assert_close(
        losses['loss_low'],
        ((standardize(s.low) - standardize(t.low))**2).mean())
