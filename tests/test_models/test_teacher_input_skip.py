"""teacher_cache.skip_inputs (fdkd.TeacherInputSkipHook): once the cache
serves an epoch whole, the loader stops loading the teacher's input; the
run stays bitwise the one that loads it."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from fdkd_plugin.models.algorithms.teacher_cache import input_skip
from fdkd_plugin.registry import DATASETS, MODELS

from fdkd_helpers import REPO_ROOT, tiny_cfg_options, training_only

A_FROM_V = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                               'audio-from-visual.py')
V_FROM_A = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                               'visual-from-audio.py')


def dataset_of(path, data_root):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(tiny_cfg_options(data_root))
    with DefaultScope.overwrite_default_scope('fdkd'):
        return DATASETS.build(cfg.train_dataloader.dataset)


def test_install_wraps_the_teacher_only_transforms(tiny_avdigits):
    dataset = dataset_of(V_FROM_A, tiny_avdigits)
    plain = dataset_of(V_FROM_A, tiny_avdigits)
    flag, what = input_skip.install(dataset, 'audio')
    assert what == ('LoadAudio, Spectrogram and the teacher part of the '
                    'packer')
    kinds = [type(t).__name__ for t in dataset.pipeline.transforms]
    assert kinds == ['SkipWhenCached', 'SkipWhenCached', 'LoadFrames',
                     'MultiModalRandomResizedCrop', 'MultiModalRandomFlip',
                     'PackWithoutTeacher']
    for on in (0, 1):
        flag[0] = on
        for i in (0, 5):
            np.random.seed(i)
            got = dataset[i]
            np.random.seed(i)
            want = plain[i]
            assert sorted(got['inputs']) == (['visual'] if on else
                                             ['audio', 'visual'])
            for name, value in got['inputs'].items():
                assert torch.equal(value, want['inputs'][name]), name
            assert got['data_samples'].sample_idx == i
            assert got['data_samples'].gt_label == \
                want['data_samples'].gt_label
    # installing twice is refused, the pipeline unchanged
    assert input_skip.install(dataset, 'audio') == (
        None, 'the pipeline is wrapped already')


def test_install_refuses_what_it_cannot_skip(tiny_avdigits):
    dataset = dataset_of(A_FROM_V, tiny_avdigits)
    before = list(dataset.pipeline.transforms)
    flag, why = input_skip.install(
        dataset, 'visual', ['#3 MultiModalRandomResizedCrop: a random crop'])
    assert flag is None and 'draws at random' in why
    assert dataset.pipeline.transforms == before

    class Undeclared:
        def __call__(self, results):
            return results

    dataset = dataset_of(V_FROM_A, tiny_avdigits)
    dataset.pipeline.transforms.insert(2, Undeclared())
    flag, why = input_skip.install(dataset, 'audio')
    assert flag is None
    assert why == ('#2 Undeclared declares no keys it writes, so it may need '
                   "the teacher's input")
    # a packer of the teacher alone leaves nothing to pack
    dataset = dataset_of(V_FROM_A, tiny_avdigits)
    dataset.pipeline.transforms[-1].modalities = ('audio', )
    assert input_skip.install(dataset, 'audio')[1] == \
        '#5 PackMultiModalInputs packs only the teacher'


def build(cfg, **cache):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.teacher_ckpt = None
    model_cfg.teacher_cache = dict(
        type='memory', pipeline=cfg.train_dataloader.dataset.pipeline,
        **cache)
    with DefaultScope.overwrite_default_scope('fdkd'):
        return MODELS.build(model_cfg).train()


@pytest.mark.parametrize('verify', [True, False])
def test_serves_after_a_verified_visit(tiny_avdigits, verify):
    from mmengine.dataset import default_collate
    cfg = Config.fromfile(V_FROM_A)
    cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits))
    model = build(cfg, verify_inputs=verify)
    dataset = dataset_of(V_FROM_A, tiny_avdigits)
    data = model.data_preprocessor(
        default_collate([dataset[i] for i in range(4)]), True)
    cache = model.teacher_cache
    assert not cache.serves([0, 1])
    model(**data, mode='loss')  # fills
    assert cache.serves([0, 1, 2, 3]) is not verify
    model(**data, mode='loss')  # the second visit verifies
    assert cache.serves([0, 1, 2, 3]) and not cache.serves([0, 4])
    # a batch without the teacher's input: served from the cache ...
    light = dict(data, inputs=dict(visual=data['inputs']['visual']))
    torch.manual_seed(0)
    with_input = model(**data, mode='loss')
    torch.manual_seed(0)
    without = model(**light, mode='loss')
    assert with_input.keys() == without.keys()
    for k in with_input:
        assert torch.equal(with_input[k], without[k]), k
    # ... but never for a sample it does not hold
    fresh = build(cfg)
    with pytest.raises(RuntimeError,
                       match=r"holds no 'audio' input, and samples "
                       r'\[0, 1, 2, 3\] are not cached'):
        fresh(**light, mode='loss')


@pytest.mark.slow
def test_skipping_run_is_bitwise_the_loading_one(tiny_avdigits, tmp_path,
                                                 monkeypatch):
    """4 epochs of V <- A with one persistent worker: epoch 1 fills the
    cache, epoch 2 verifies it, epochs 3-4 load no audio; every loss and
    the final weights equal a run with skip_inputs=False."""
    monkeypatch.setattr(Config, 'pretty_text', property(lambda c: c.text))

    def train(name, skip):
        cfg = Config.fromfile(V_FROM_A)
        cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits))
        cfg.train_dataloader.num_workers = 1
        cfg.train_dataloader.persistent_workers = True
        cfg.model.teacher_ckpt = None
        cfg.train_dataloader.dataset.indices = 16  # 2 batches of 8
        cfg.model.teacher_cache = dict(
            type='memory', pipeline=cfg.train_dataloader.dataset.pipeline,
            skip_inputs=skip)
        training_only(cfg, tmp_path, name, epochs=4)
        cfg.custom_hooks = [dict(type='fdkd.TeacherInputSkipHook')]
        runner = Runner.from_cfg(cfg)
        model = runner.model
        seen = []
        loss = model.loss
        model.loss = lambda inputs, samples: seen.append(
            (runner.epoch, 'audio' in inputs)) or loss(inputs, samples)
        runner.train()
        history = runner.message_hub.log_scalars
        losses = {k: np.array(v.data[0]) for k, v in history.items()
                  if k.startswith('train/') and 'loss' in k}
        return losses, seen, model.student.state_dict()

    plain, plain_seen, plain_w = train('plain', skip=False)
    skip, skip_seen, skip_w = train('skip', skip=True)
    assert plain_seen == [(e, True) for e in range(4) for _ in range(2)]
    assert skip_seen == [(e, e < 2) for e in range(4) for _ in range(2)]
    assert plain.keys() == skip.keys() and 'train/distill.loss_low' in plain
    for key in plain:
        assert len(plain[key]) == 8
        np.testing.assert_array_equal(skip[key], plain[key], err_msg=key)
    for k in plain_w:
        assert torch.equal(plain_w[k], skip_w[k]), k


def test_hook_stays_off_for_another_sampler(tiny_avdigits):
    """A sampler whose order may draw from a global generator is not listed
    ahead of its epoch: the hook says so and changes nothing."""
    from types import SimpleNamespace

    from mmengine.logging import MMLogger
    from torch.utils.data import DataLoader, RandomSampler

    from fdkd_plugin.engine import TeacherInputSkipHook
    cfg = Config.fromfile(V_FROM_A)
    cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits))
    model = build(cfg)
    dataset = dataset_of(V_FROM_A, tiny_avdigits)
    before = list(dataset.pipeline.transforms)
    loader = DataLoader(dataset, sampler=RandomSampler(dataset))
    runner = SimpleNamespace(
        model=model, train_loop=SimpleNamespace(dataloader=loader))
    hook = TeacherInputSkipHook()
    logged = []
    logger = MMLogger.get_current_instance()

    def keep(record):
        logged.append(record.getMessage())
        return True

    logger.addFilter(keep)
    try:
        hook.before_train(runner)
        hook.before_train_epoch(runner)
    finally:
        logger.removeFilter(keep)
    assert hook.flag is None
    assert dataset.pipeline.transforms == before
    assert any('RandomSampler is no mmengine DefaultSampler' in m
               for m in logged), logged
