"""BidirectionalCrossModalDistill: A <- V and V <- A from one data loader,
each direction exactly its single-direction algorithm; both students learn,
both teachers stay frozen, validation reports both, and either student can
be extracted."""
import copy
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from fdkd_plugin.registry import DATASETS, MODELS

from fdkd_helpers import REPO_ROOT, load_script, tiny_cfg_options

BI = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                         'bidirectional.py')
SINGLE = {
    'a_from_v': osp.join(REPO_ROOT,
                         'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-'
                         'from-visual.py'),
    'v_from_a': osp.join(REPO_ROOT,
                         'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-visual-'
                         'from-audio.py'),
}


def build(model_cfg):
    with DefaultScope.overwrite_default_scope('fdkd'):
        return MODELS.build(copy.deepcopy(model_cfg)).train()


def bi_cfg(data_root=None):
    cfg = Config.fromfile(BI)
    if data_root is not None:
        cfg.merge_from_dict(tiny_cfg_options(data_root))
    for direction in cfg.model.directions.values():
        direction.teacher_ckpt = None
    return cfg


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_losses_are_those_of_the_single_directions(tiny_avdigits):
    cfg = bi_cfg(tiny_avdigits)
    torch.manual_seed(0)
    bi = build(cfg.model)
    assert bi.direction_names == ['a_from_v', 'v_from_a']
    with DefaultScope.overwrite_default_scope('fdkd'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(8)])
    data = bi.data_preprocessor(batch, True)
    losses = {k: v.item() for k, v in bi(**data, mode='loss').items()}

    expected = {}
    for name, path in SINGLE.items():
        single_cfg = Config.fromfile(path).model
        single_cfg.teacher_ckpt = None
        # the same cache option, so that the logged keys match too
        single_cfg.teacher_cache = cfg.model.directions[name].get(
            'teacher_cache')
        single = build(single_cfg)
        single.load_state_dict(bi.directions[name].state_dict())
        out = single(**single.data_preprocessor(batch, True), mode='loss')
        expected.update({f'{name}.{k}': v.item() for k, v in out.items()})
        # predictions: each student on its own modality, own copies
        preds = bi.predict_all(**bi.data_preprocessor(batch, False))
        alone = single(**single.data_preprocessor(batch, False),
                       mode='predict')
        assert torch.equal(
            torch.stack([p.pred_score for p in preds[name]]),
            torch.stack([p.pred_score for p in alone]))
    assert losses == expected
    assert 'v_from_a.teacher_cache.hit_rate' in losses
    assert 'a_from_v.distill.loss_low' in losses
    assert preds['a_from_v'][0] is not preds['v_from_a'][0]


def test_config_pairs_the_two_directions():
    cfg = bi_cfg()
    assert cfg.default_scope == 'fdkd'
    assert cfg.val_cfg.type == 'fdkd.BidirectionalValLoop'
    assert cfg.test_cfg.type == 'fdkd.BidirectionalTestLoop'
    assert cfg.default_hooks.checkpoint.save_best == 'mean/accuracy/top1'
    model = build(cfg.model)
    pairs = {n: (d.student_modality, d.teacher_modality)
             for n, d in model.directions.items()}
    assert pairs == dict(a_from_v=('audio', 'visual'),
                         v_from_a=('visual', 'audio'))
    # only the audio teacher, whose input is deterministic, is cached
    assert model.directions.a_from_v.teacher_cache is None
    assert model.directions.v_from_a.teacher_cache is not None
    for direction in model.directions.values():
        assert direction.student.head.num_classes == cfg.num_classes
        assert direction.distiller.num_classes == cfg.num_classes
        for side in ('student', 'teacher'):
            names = dict(getattr(direction, side).named_modules())
            for recorder in getattr(direction.distiller,
                                    f'{side}_recorders').recorders.values():
                assert recorder.source in names, recorder.source


def test_bad_directions():
    cfg = bi_cfg()
    with pytest.raises(ValueError, match='directions={}'):
        build(dict(type='fdkd.BidirectionalCrossModalDistill',
                   directions={}))
    bad = copy.deepcopy(cfg.model)
    bad.directions = {'a.v': bad.directions.a_from_v}
    with pytest.raises(ValueError, match="direction name 'a.v'"):
        build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.predict_direction = 'x_from_y'
    with pytest.raises(ValueError, match="predict_direction='x_from_y'"):
        build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.directions.a_from_v = dict(
        Config.fromfile(BI).audio_model, _scope_='fdkd')
    with pytest.raises(TypeError, match='not a CrossModalDistill'):
        build(bad)


@pytest.mark.slow
def test_both_students_train_and_validate(tiny_avdigits, tmp_path,
                                          monkeypatch):
    # MMEngine formats the whole config with yapf for the log, the runtime
    # info and each checkpoint: seconds per call on a busy CPU, and not
    # under test here
    monkeypatch.setattr(Config, 'pretty_text', property(lambda c: c.text))
    cfg = bi_cfg(tiny_avdigits)
    work_dir = str(tmp_path / 'bi')
    os.makedirs(work_dir)
    teachers = {}
    for name, direction in cfg.model.directions.items():
        teacher = build(direction.teacher)
        direction.teacher_ckpt = osp.join(work_dir, f'{name}_teacher.pth')
        torch.save(dict(state_dict=teacher.state_dict()),
                   direction.teacher_ckpt)
        teachers[name] = snapshot(teacher)
    iters = 2
    cfg.work_dir = work_dir
    cfg.experiment_name = 'bi'
    cfg.train_dataloader.dataset.indices = 16
    cfg.val_dataloader.dataset.indices = 8
    cfg.test_dataloader.dataset.indices = 8
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=iters)
    cfg.param_scheduler = []
    # only the best checkpoint, without optimizer state: it is the one
    # under test, and writing more costs seconds
    cfg.default_hooks.checkpoint.update(
        by_epoch=False, interval=-1, save_last=False, save_optimizer=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(by_epoch=False)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    students = {n: snapshot(d.student) for n, d in model.directions.items()}
    runner.train()

    for name, direction in model.directions.items():
        for k, v in snapshot(direction.teacher).items():
            assert torch.equal(v, teachers[name][k]), f'{name} teacher: {k}'
        changed = [
            k for k, v in snapshot(direction.student).items()
            if v.dtype.is_floating_point
            and not torch.equal(v, students[name][k])
        ]
        assert any('backbone' in k for k in changed), name
        assert any('head' in k for k in changed), name
    scalars = runner.message_hub.log_scalars
    for key in ('a_from_v.distill.loss_low', 'v_from_a.distill.loss_high',
                'a_from_v.student.loss', 'v_from_a.student.loss'):
        assert f'train/{key}' in scalars, sorted(scalars)

    # the validation at the end of training
    metrics = {
        k[len('val/'):]: v.current()
        for k, v in runner.message_hub.log_scalars.items()
        if k.startswith('val/')
    }
    for name in ('a_from_v', 'v_from_a'):
        assert f'{name}/accuracy/top1' in metrics
        assert f'{name}/teacher/accuracy/top1' in metrics
    assert metrics['mean/accuracy/top1'] == pytest.approx(
        (metrics['a_from_v/accuracy/top1'] +
         metrics['v_from_a/accuracy/top1']) / 2)
    # selected on the mean of the two students
    best = osp.join(work_dir, f'best_mean_accuracy_top1_iter_{iters}.pth')
    assert osp.isfile(best)
    assert osp.realpath(osp.join(work_dir, 'selected.pth')) == \
        osp.realpath(best)

    tested = runner.test()
    assert {'a_from_v/accuracy/top1', 'v_from_a/teacher/accuracy/top1',
            'mean/accuracy/top1'} <= set(tested)

    extract = load_script('tools/model_converters/extract_student.py')
    for name in ('a_from_v', 'v_from_a'):
        out = osp.join(work_dir, f'{name}.pth')
        extract.main([best, out, '--student', name])
        state = torch.load(out, weights_only=True)['state_dict']
        ref = model.directions[name].student.state_dict()
        assert state.keys() == ref.keys()
        assert all(torch.equal(state[k], ref[k]) for k in ref)
    with pytest.raises(SystemExit):  # which of the two?
        extract.main([best, osp.join(work_dir, 'x.pth')])
