"""The controls of a distillation claim (``model.control``): an untrained
teacher, and no term that reads the teacher."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from fdkd_plugin.registry import DATASETS, MODELS

from fdkd_helpers import REPO_ROOT, tiny_cfg_options

FDKD = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                           'audio-from-visual.py')
LOGIT = osp.join(REPO_ROOT,
                 'configs/baselines/logit/logit_r18-w32_1xb32-12e_avdigits-'
                 'audio-from-visual.py')


def build(model_cfg):
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(copy.deepcopy(model_cfg))
    return model.train()


def model_cfg(path=FDKD, **changes):
    cfg = Config.fromfile(path).model
    cfg.teacher_ckpt = None
    cfg.update(changes)
    return cfg


@pytest.fixture(scope='module')
def batch(tiny_avdigits):
    cfg = Config.fromfile(FDKD)
    cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits))
    with DefaultScope.overwrite_default_scope('fdkd'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([dataset[i] for i in range(8)])


def losses_of(model, batch):
    data = model.data_preprocessor(batch, True)
    return {k: v for k, v in model(**data, mode='loss').items()}


def _fill_teacher(model, value):
    with torch.no_grad():
        for p in model.teacher.parameters():
            p.fill_(value)


def test_untrained_teacher_does_not_load_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    teacher = build(model_cfg()).teacher
    state = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v
             for k, v in teacher.state_dict().items()}
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=state), ckpt)

    loaded = build(model_cfg(teacher_ckpt=ckpt))
    assert all(
        torch.equal(v, state[k])
        for k, v in loaded.teacher.state_dict().items())
    control = build(model_cfg(teacher_ckpt=ckpt,
                              control='untrained_teacher'))
    assert control.control == 'untrained_teacher'
    weight = 'backbone.conv1.weight'
    assert not torch.equal(control.teacher.state_dict()[weight],
                           state[weight])
    # no checkpoint is needed for it: a missing one is not an error
    build(model_cfg(teacher_ckpt=str(tmp_path / 'absent.pth'),
                    control='untrained_teacher'))
    with pytest.raises(FileNotFoundError):
        build(model_cfg(teacher_ckpt=str(tmp_path / 'absent.pth')))


def test_no_teacher_terms_fdkd_keeps_the_band_heads_only(batch):
    torch.manual_seed(0)
    full = build(model_cfg())
    torch.manual_seed(0)
    control = build(model_cfg(control='no_teacher_terms'))
    assert control.distiller.teacher_terms is False
    keys = set(losses_of(control, batch))
    assert set(losses_of(full, batch)) - keys == {
        'distill.loss_low', 'distill.loss_high',
        'distill.loss_align_low_teacher', 'distill.loss_align_high_teacher'
    }
    assert {'distill.loss_task_low', 'distill.loss_task_high',
            'distill.loss_align_low_student',
            'distill.loss_align_high_student', 'student.loss'} <= keys
    # nothing depends on the teacher: two very different teachers give
    # bit-identical losses (and the same numbers as the full method's
    # student-side terms)
    _fill_teacher(control, 0.0)
    first = losses_of(control, batch)
    _fill_teacher(control, 3.0)
    second = losses_of(control, batch)
    assert first.keys() == second.keys()
    for k in first:
        assert torch.equal(first[k], second[k]), k
    reference = losses_of(full, batch)
    for k in ('distill.loss_task_low', 'distill.loss_align_low_student',
              'student.loss'):
        assert torch.allclose(first[k], reference[k], atol=1e-6), k


def test_no_teacher_terms_of_a_teacher_matching_loss_is_uni(batch):
    control = build(model_cfg(LOGIT, control='no_teacher_terms'))
    assert dict(control.distiller.distill_losses) == {}
    assert control.distiller.loss_forward_mappings == {}
    losses = losses_of(control, batch)
    assert not any(k.startswith('distill.') for k in losses), losses
    assert 'student.loss' in losses
    # the full logit-KD config does read the teacher
    full = losses_of(build(model_cfg(LOGIT)), batch)
    assert any(k.startswith('distill.') for k in full)


def test_unknown_control_names_the_key():
    with pytest.raises(ValueError, match=r"model\.control='untrained' must "
                       r"be None or one of \['no_teacher_terms', "
                       r"'untrained_teacher'\]"):
        build(model_cfg(control='untrained'))


FDKD_LOGIT = osp.join(REPO_ROOT,
                      'configs/fdkd/fdkd-logit_r18-w32_1xb32-12e_avdigits-'
                      'audio-from-visual.py')


def test_fdkd_with_logit_kd_adds_the_logit_baselines_loss(batch):
    """FDKD + logit KD (issue 14, item 5) is FDKD's terms plus MMRazor's
    KLDivergence, which equals the Logit baseline's loss on the same
    networks; its no-teacher control drops the KL with FDKD's teacher
    terms."""
    torch.manual_seed(0)
    both = build(model_cfg(FDKD_LOGIT))
    fdkd_only = set(losses_of(build(model_cfg()), batch))
    losses = losses_of(both, batch)
    assert set(losses) == fdkd_only | {'distill.loss_kl'}
    logit = build(model_cfg(LOGIT))
    logit.student.load_state_dict(both.student.state_dict())
    logit.teacher.load_state_dict(both.teacher.state_dict())
    reference = losses_of(logit, batch)['distill.loss_kl']
    assert reference > 0
    assert torch.allclose(losses['distill.loss_kl'], reference, rtol=1e-5)
    control = build(model_cfg(FDKD_LOGIT, control='no_teacher_terms'))
    kept = set(losses_of(control, batch))
    assert 'distill.loss_kl' not in kept
    assert 'distill.loss_low' not in kept
    assert 'distill.loss_task_low' in kept
