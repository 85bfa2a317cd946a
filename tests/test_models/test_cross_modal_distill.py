"""CrossModalDistill on tiny AV-digits: each network sees its own modality,
the teacher stays frozen, the student and the shared heads learn, MMRazor's
own losses run across modalities, and validation reports both networks."""
import copy
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from fdkd_plugin.registry import MODELS

from fdkd_helpers import REPO_ROOT, tiny_cfg_options

FDKD_CFG = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                               'audio-from-visual.py')


def make_cfg(data_root, work_dir, iters=4, **model):
    """The AV-digits FDKD config, shrunk; the teacher is loaded from a
    checkpoint written here, as a unimodal run would leave it."""
    cfg = Config.fromfile(FDKD_CFG)
    cfg.merge_from_dict(tiny_cfg_options(data_root))
    os.makedirs(str(work_dir), exist_ok=True)
    teacher = MODELS.build(cfg.model.teacher)
    teacher.init_weights()
    cfg.model.teacher_ckpt = osp.join(str(work_dir), 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), cfg.model.teacher_ckpt)
    cfg.model.update(model)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=iters)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(by_epoch=False)
    cfg.experiment_name = osp.basename(str(work_dir))
    return cfg


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.slow
def test_teacher_frozen_student_and_heads_learn(tiny_avdigits, tmp_path):
    cfg = make_cfg(tiny_avdigits, tmp_path / 'fdkd')
    teacher0 = torch.load(cfg.model.teacher_ckpt)['state_dict']
    runner = Runner.from_cfg(cfg)
    model = runner.model
    student0 = snapshot(model.student)
    heads0 = snapshot(model.distiller)
    runner.train()

    for k, v in snapshot(model.teacher).items():
        assert torch.equal(v, teacher0[k]), f'teacher changed: {k}'
    changed = [k for k, v in snapshot(model.student).items()
               if v.dtype.is_floating_point and not torch.equal(v, student0[k])]
    assert any('backbone' in k for k in changed)
    assert any('head' in k for k in changed)
    for name in ('align_heads.low.fc.weight', 'align_heads.high.fc.weight',
                 'task_heads.low.fc.weight'):
        assert not torch.equal(model.distiller.state_dict()[name],
                               heads0[name]), name
    # the teacher is in eval mode as a whole while training
    model.train()
    assert not model.teacher.training
    assert model.student.training

    scalars = runner.message_hub.log_scalars
    for key in ('train/distill.loss_low', 'train/distill.loss_high',
                'train/distill.loss_align_low_teacher',
                'train/distill.loss_task_high', 'train/student.loss'):
        assert key in scalars, sorted(scalars)
    metrics = runner.message_hub.runtime_info
    assert 'best_ckpt' in metrics or osp.isfile(
        osp.join(str(tmp_path / 'fdkd'), 'selected.pth'))


def _bn_running_means(module):
    return {
        name: m.running_mean.clone()
        for name, m in module.named_modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    }


@pytest.mark.slow
@pytest.mark.parametrize('trainable, norm_eval, moves', [
    (True, None, True),  # default: a trainable teacher trains its BN
    (False, None, False),  # a frozen teacher: eval mode as a whole
    (True, True, False),  # a config's explicit choice wins
])
def test_teacher_bn_statistics_follow_teacher_trainable(
        tiny_avdigits, tmp_path, trainable, norm_eval, moves):
    """DML and C2KD train their teacher: its BN running statistics must
    move with its weights (the official codes call teacher.train()).
    MMRazor's teacher_norm_eval=True default froze them for every
    teacher."""
    model = dict(teacher_trainable=trainable)
    if norm_eval is not None:
        model['teacher_norm_eval'] = norm_eval
    cfg = make_cfg(tiny_avdigits, tmp_path / 'bn', iters=2, **model)
    runner = Runner.from_cfg(cfg)
    teacher = runner.model.teacher
    before = _bn_running_means(teacher)
    assert len(before) >= 10
    assert runner.model.teacher_norm_eval is (not moves)
    runner.train()
    after = _bn_running_means(teacher)
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    if moves:
        assert changed == list(before), set(before) - set(changed)
    else:
        assert changed == []
    if not trainable:
        # a frozen teacher is bit-identical to its checkpoint: every weight
        # and buffer
        saved = torch.load(cfg.model.teacher_ckpt)['state_dict']
        for k, v in snapshot(teacher).items():
            assert torch.equal(v, saved[k]), k


@pytest.mark.slow
def test_modalities_are_routed(tiny_avdigits, tmp_path):
    runner = Runner.from_cfg(make_cfg(tiny_avdigits, tmp_path / 'route'))
    model = runner.model
    batch = next(iter(runner.build_dataloader(runner.cfg.val_dataloader)))
    data = model.data_preprocessor(batch, False)
    assert data['inputs']['audio'].shape[1:] == (1, 129, 63)
    assert data['inputs']['visual'].shape[1:] == (3, 32, 32)

    seen = {}

    def spy(side):
        def hook(module, inputs, outputs):
            seen[side] = inputs[0].shape[1]  # channels it was given
        return hook

    model.student.backbone.register_forward_hook(spy('student'))
    model.teacher.backbone.register_forward_hook(spy('teacher'))
    model.eval()
    preds = model(**data, mode='predict')
    assert seen == {'student': 1}  # predict: student only, on audio
    assert len(preds) == len(batch['data_samples'])
    assert preds[0].pred_label.shape == (1, )
    model.teacher_predict(**data)
    assert seen['teacher'] == 3  # teacher on its frames
    # a batch without the student's modality is a clear error
    with pytest.raises(KeyError, match="'audio' is not in the batch"):
        model(dict(visual=data['inputs']['visual']), mode='predict')


@pytest.mark.slow
def test_mmrazor_losses_run_cross_modally(tiny_avdigits, tmp_path):
    # logit KD baseline: MMRazor's KLDivergence between the two heads
    distiller = dict(
        type='mmrazor.ConfigurableDistiller',
        student_recorders=dict(
            logits=dict(type='mmrazor.ModuleOutputs', source='head.fc')),
        teacher_recorders=dict(
            logits=dict(type='mmrazor.ModuleOutputs', source='head.fc')),
        distill_losses=dict(
            loss_kl=dict(type='mmrazor.KLDivergence', tau=4,
                         loss_weight=1.0)),
        loss_forward_mappings=dict(
            loss_kl=dict(
                preds_S=dict(from_student=True, recorder='logits'),
                preds_T=dict(from_student=False, recorder='logits'))))
    cfg = make_cfg(tiny_avdigits, tmp_path / 'kd', iters=2)
    cfg.model.distiller = distiller
    runner = Runner.from_cfg(cfg)
    teacher0 = snapshot(runner.model.teacher)
    runner.train()
    loss_kl = runner.message_hub.log_scalars['train/distill.loss_kl']
    assert loss_kl.current() > 0
    for k, v in snapshot(runner.model.teacher).items():
        assert torch.equal(v, teacher0[k])


@pytest.mark.slow
def test_validation_reports_teacher_once(tiny_avdigits, tmp_path):
    cfg = make_cfg(tiny_avdigits, tmp_path / 'val', iters=2)
    runner = Runner.from_cfg(cfg)
    calls = []
    original = runner.model.teacher_predict
    runner.model.teacher_predict = lambda **kw: calls.append(1) or original(
        **kw)
    runner.train()
    first = runner.val_loop.run()
    n_batches = len(runner.val_loop.dataloader)
    assert 'accuracy/top1' in first and 'teacher/accuracy/top1' in first
    second = runner.val_loop.run()
    assert second['teacher/accuracy/top1'] == first['teacher/accuracy/top1']
    # evaluated in the training run's validation only, then reused
    assert len(calls) == n_batches
    # the teacher's score is its own: equal to evaluating it directly
    evaluator = copy.deepcopy(runner.val_loop.evaluator)
    model = runner.model
    for batch in runner.val_loop.dataloader:
        data = model.data_preprocessor(batch, False)
        evaluator.process(
            data_samples=original(**data), data_batch=batch)
    direct = evaluator.evaluate(len(runner.val_loop.dataloader.dataset))
    assert direct['accuracy/top1'] == first['teacher/accuracy/top1']


def test_bad_modality_names():
    cfg = Config.fromfile(FDKD_CFG).model
    cfg.teacher_ckpt = None
    cfg.student_modality = ''
    with pytest.raises(ValueError, match="student_modality=''"):
        MODELS.build(cfg)
