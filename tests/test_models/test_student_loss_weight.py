"""``student_loss_weight``: the factor on the student's own task loss, with
which the Logit baseline runs RepDistiller's CE 0.1 + KL 0.9 by option
(its default is CE 1 + KL 1, for the measured reason in its config)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from fdkd_plugin.models.algorithms.cross_modal_distill import scale_losses
from fdkd_plugin.registry import MODELS

from fdkd_helpers import REPO_ROOT, paired_batch, tiny_cfg_options

LOGIT = osp.join(REPO_ROOT,
                 'configs/baselines/logit/logit_r18-w32_1xb32-12e_avdigits-'
                 'audio-from-visual.py')


def build(model_cfg, **changes):
    cfg = copy.deepcopy(model_cfg)
    cfg.teacher_ckpt = None
    cfg.update(changes)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('fdkd'):
        return MODELS.build(cfg).train()


REPDISTILLER = {'student_loss_weight': 0.1,
                'distiller.distill_losses.loss_kl.loss_weight': 0.9}


def test_logit_baseline_weights_and_repdistillers_by_option():
    model = Config.fromfile(LOGIT).model
    assert model.get('student_loss_weight', 1.0) == 1.0
    assert model.distiller.distill_losses.loss_kl.loss_weight == 1.0
    assert model.distiller.distill_losses.loss_kl.tau == 4
    cfg = Config.fromfile(LOGIT)
    cfg.merge_from_dict({f'model.{k}': v for k, v in REPDISTILLER.items()})
    assert cfg.model.student_loss_weight == 0.1
    assert cfg.model.distiller.distill_losses.loss_kl.loss_weight == 0.9


def test_student_loss_weight_scales_the_student_loss_only(tiny_avdigits):
    cfg = Config.fromfile(LOGIT)
    cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits))
    unit = build(cfg.model)  # the config's CE 1
    tenth = build(cfg.model, student_loss_weight=0.1)
    tenth.load_state_dict(unit.state_dict())
    data = paired_batch(unit, cfg.train_dataloader.dataset, n=8)
    a = unit(**data, mode='loss')
    b = tenth(**data, mode='loss')
    assert a.keys() == b.keys() == {'student.loss', 'distill.loss_kl'}
    assert a['student.loss'] > 0.5  # an untrained head's CE on 10 classes
    assert torch.allclose(b['student.loss'], 0.1 * a['student.loss'],
                          rtol=1e-6)
    assert torch.equal(a['distill.loss_kl'], b['distill.loss_kl'])
    # and so the gradient: the student's CE share shrinks tenfold
    total_b, _ = tenth.parse_losses(b)
    assert torch.allclose(
        total_b, 0.1 * a['student.loss'] + a['distill.loss_kl'], rtol=1e-6)


@pytest.mark.parametrize('bad', [-0.1, float('nan'), float('inf'), '0.1',
                                 True])
def test_bad_student_loss_weight_names_the_key(bad):
    cfg = Config.fromfile(LOGIT).model
    with pytest.raises(ValueError,
                       match=r'model\.student_loss_weight=.* must be a '
                       r'finite number >= 0'):
        build(cfg, student_loss_weight=bad)


def test_scale_losses_leaves_metrics_alone():
    losses = dict(loss=torch.tensor(2.0), acc=torch.tensor(50.0),
                  loss_aux=[torch.tensor(1.0), torch.tensor(3.0)])
    scaled = scale_losses(losses, 0.5)
    assert scaled['loss'].item() == 1.0
    assert scaled['acc'].item() == 50.0
    assert [t.item() for t in scaled['loss_aux']] == [0.5, 1.5]
