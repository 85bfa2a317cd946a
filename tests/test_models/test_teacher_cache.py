"""CrossModalDistill(teacher_cache=...): the frozen teacher's records are
computed once per sample and served afterwards, bit for bit, with the
teacher's forward pass skipped; random teacher-side pipelines are refused
unless one fixed view is asked for; a changed teacher or pipeline is a new
cache."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from fdkd_plugin.models.algorithms.teacher_cache import (_DiskStore,
                                                         random_transforms,
                                                         teacher_transforms)
from fdkd_plugin.registry import DATASETS, MODELS

from fdkd_helpers import REPO_ROOT, tiny_cfg_options, training_only

A_FROM_V = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                               'audio-from-visual.py')
V_FROM_A = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                               'visual-from-audio.py')


def load_cfg(path, data_root=None):
    cfg = Config.fromfile(path)
    if data_root is not None:
        cfg.merge_from_dict(tiny_cfg_options(data_root))
    cfg.model.teacher_ckpt = None
    return cfg


def build(cfg, **model):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.update(model)
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(model_cfg)
    return model.train()  # as the runner does: the frozen teacher in eval


def memory_cache(cfg, **kw):
    return dict(dict(type='memory',
                     pipeline=cfg.train_dataloader.dataset.pipeline), **kw)


def batch_of(cfg, indices, seed=0):
    """The pre-processed training batch of these sample indices."""
    np.random.seed(seed)  # LoadFrames' random view in training
    with DefaultScope.overwrite_default_scope('fdkd'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([dataset[i] for i in indices])


def teacher_records(model):
    return {
        name: copy.deepcopy(rec.data_buffer)
        for name, rec in model.distiller.teacher_recorders.recorders.items()
    }


def assert_records_equal(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert len(a[name]) == len(b[name]) > 0
        for rec_a, rec_b in zip(a[name], b[name]):
            rec_a = rec_a if isinstance(rec_a, tuple) else (rec_a, )
            rec_b = rec_b if isinstance(rec_b, tuple) else (rec_b, )
            for x, y in zip(rec_a, rec_b):
                assert torch.equal(x, y)


def count_forwards(module):
    """The batch size of each forward call of ``module``."""
    calls = []
    module.register_forward_pre_hook(
        lambda _, args: calls.append(args[0].shape[0]))
    return calls


def losses_of(model, data):
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    return {k: v.item() for k, v in losses.items()}


def without_hit_rate(losses):
    return {k: v for k, v in losses.items() if 'teacher_cache' not in k}


# ----------------------------------------------------------------------
def test_pipeline_analysis_finds_the_teachers_random_transforms():
    cfg = Config.fromfile(A_FROM_V)
    train = cfg.train_dataloader.dataset.pipeline
    test = cfg.val_dataloader.dataset.pipeline
    # AV-digits: the spectrogram is deterministic, the frames are not
    assert random_transforms(train, 'audio') == []
    frame, crop = random_transforms(train, 'visual')
    assert 'fdkd.LoadFrames' in frame and 'test_mode=False' in frame
    assert 'fdkd.MultiModalRandomResizedCrop' in crop
    assert random_transforms(test, 'visual') == []  # the flip has prob 0
    # which transforms shape a modality (and so enter the cache key): the
    # paired geometry writes the image fields loaded before it (the frames)
    assert [n for _, n, _ in teacher_transforms(train, 'audio')] == [
        'fdkd.LoadAudio', 'fdkd.Spectrogram'
    ]
    assert [n for _, n, _ in teacher_transforms(train, 'visual')] == [
        'fdkd.LoadFrames', 'fdkd.MultiModalRandomResizedCrop',
        'fdkd.MultiModalRandomFlip'
    ]
    # with no loader above that names its fields, it may write any key
    flip = dict(type='fdkd.MultiModalRandomFlip', prob=0.5)
    assert random_transforms([flip], 'audio')
    rgbd = dict(type='fdkd.LoadRGBD', modalities=('rgb', ))
    assert not random_transforms([rgbd, flip], 'depth')
    assert random_transforms([rgbd, flip], 'rgb')
    # the audio loader is random only with random_crop outside test_mode
    crop = dict(type='fdkd.LoadAudio', random_crop=True)
    assert random_transforms([crop], 'audio')
    assert not random_transforms([dict(crop, test_mode=True)], 'audio')
    # other transforms: their keys say which modality, their name or a
    # *prob* argument whether they are random
    flip = dict(type='mmpretrain.RandomFlip', keys=['visual'], prob=0.5)
    assert random_transforms([flip], 'visual')
    assert not random_transforms([flip], 'audio')
    noise = dict(type='AddGaussianNoise')  # no keys: any modality
    assert random_transforms([noise], 'audio')
    assert random_transforms([dict(type='Foo', drop_prob=0.1)], 'audio')
    assert not random_transforms([dict(type='Foo', drop_prob=0.0)], 'audio')
    assert not random_transforms([dict(type='Normalize')], 'audio')
    # a wrapper is random when one of its transforms is; KeyMapper's
    # mapping and out_key name the modality
    mapper = dict(type='KeyMapper', mapping=dict(img='image'),
                  transforms=[dict(type='LoadImageFromFile'),
                              dict(type='RandomFlip', prob=0.5)])
    (image, ) = random_transforms([mapper], 'image')
    assert 'RandomFlip' in image
    assert not random_transforms([mapper], 'text')
    tokenize = dict(type='fdkd.TokenizeText', key='tweet_text', out_key='text')
    assert teacher_transforms([tokenize, mapper], 'text') == [
        (0, 'fdkd.TokenizeText', dict(key='tweet_text', out_key='text'))
    ]
    # built transforms are read from their attributes
    from fdkd_plugin.datasets.transforms import LoadFrames
    assert random_transforms([LoadFrames()], 'visual')
    assert not random_transforms([LoadFrames(test_mode=True)], 'visual')


def test_transforms_declare_their_randomness():
    """A transform's own cache_randomness / cache_writes decide over the
    name rules: an RGB-D 'Random' resize with one scale is deterministic,
    a flip with prob 0 too, and a declared packer writes nothing."""
    resize = dict(type='fdkd.MultiModalRandomResize', ratio_range=(1, 1))
    assert not random_transforms([resize], 'depth')
    (reason, ) = random_transforms([dict(resize, ratio_range=(0.5, 2))],
                                   'depth')
    assert 'a random scale in [0.5, 2]' in reason
    assert not random_transforms(
        [dict(type='fdkd.MultiModalRandomFlip', prob=0.0)], 'rgb')
    hsv = dict(type='fdkd.RandomHSV')  # writes its key only
    assert random_transforms([hsv], 'rgb')
    assert not random_transforms([hsv], 'depth')
    assert teacher_transforms([dict(type='fdkd.PackMultiModalInputs')],
                              'audio') == []

    class Jitter:  # a user's transform: its declaration is asked
        @classmethod
        def cache_writes(cls, args):
            return ('audio', )

        @classmethod
        def cache_randomness(cls, args):
            return 'jitter' if args.get('amount') else None

    assert not random_transforms([dict(type=Jitter, amount=0)], 'audio')
    assert random_transforms([dict(type=Jitter, amount=1)], 'audio') == [
        '#0 Jitter: jitter'
    ]
    assert teacher_transforms([dict(type=Jitter)], 'visual') == []


def test_refusals_and_fixed_view():
    cfg = load_cfg(A_FROM_V)
    # the visual teacher sees random frames and crops in training
    with pytest.raises(ValueError, match=r"random transform.*#\d "
                       r'fdkd\.LoadFrames.*fixed_view=True'):
        build(cfg, teacher_cache=memory_cache(cfg))
    model = build(cfg, teacher_cache=memory_cache(cfg, fixed_view=True))
    assert model.teacher_cache.fixed_view
    assert not model.teacher_cache.verify_inputs
    # the audio teacher's spectrograms are deterministic
    cfg_va = load_cfg(V_FROM_A)
    assert build(cfg_va,
                 teacher_cache=memory_cache(cfg_va)).teacher_cache is not None
    with pytest.raises(ValueError, match='teacher_trainable=True'):
        build(cfg_va, teacher_cache=memory_cache(cfg_va),
              teacher_trainable=True)
    with pytest.raises(ValueError, match='pipeline=None'):
        build(cfg_va, teacher_cache=dict(type='memory'))
    with pytest.raises(ValueError, match="type='ram'"):
        build(cfg_va, teacher_cache=memory_cache(cfg_va, type='ram'))
    with pytest.raises(ValueError, match="dir='x' needs type='disk'"):
        build(cfg_va, teacher_cache=memory_cache(cfg_va, dir='x'))


def test_cache_serves_bitwise_and_skips_the_teacher(tiny_avdigits):
    cfg = load_cfg(V_FROM_A, tiny_avdigits)
    torch.manual_seed(0)
    cached = build(cfg, teacher_cache=memory_cache(cfg))
    plain = build(cfg)
    plain.load_state_dict(cached.state_dict())
    calls = count_forwards(cached.teacher)
    first = batch_of(cfg, range(8))

    loss_plain = losses_of(plain, first)
    ref = teacher_records(plain)
    loss_miss = losses_of(cached, first)
    assert len(calls) == 1 and loss_miss['teacher_cache.hit_rate'] == 0
    assert_records_equal(teacher_records(cached), ref)
    assert without_hit_rate(loss_miss) == loss_plain

    loss_hit = losses_of(cached, first)  # every sample cached
    assert len(calls) == 1 and loss_hit['teacher_cache.hit_rate'] == 1
    assert_records_equal(teacher_records(cached), ref)
    assert without_hit_rate(loss_hit) == loss_plain
    assert len(cached.teacher_cache) == 8

    # half cached: the teacher runs on the 4 new samples only
    second = batch_of(cfg, range(4, 12))
    loss_half = losses_of(cached, second)
    assert calls == [8, 4] and loss_half['teacher_cache.hit_rate'] == 0.5
    assert len(cached.teacher_cache) == 12
    loss_plain2 = losses_of(plain, second)
    for k, v in without_hit_rate(loss_half).items():
        assert v == pytest.approx(loss_plain2[k], rel=1e-5), k

    # a cached sample whose teacher input changed is an error, not a
    # stale feature
    data = cached.data_preprocessor(first, True)
    data['inputs']['audio'] = data['inputs']['audio'] + 1
    with pytest.raises(RuntimeError, match='input of sample 0 differs'):
        cached(**data, mode='loss')
    for sample in data['data_samples']:
        del sample.sample_idx
    with pytest.raises(ValueError, match='sample_idx'):
        cached(**data, mode='loss')


@pytest.mark.parametrize('precision', ['float16', 'bfloat16'])
def test_half_precision_storage(tiny_avdigits, tmp_path, precision):
    """Records stored in half precision come back as float32, the same
    rounded values on the computing visit and on every hit, within the
    half type's rounding of the exact ones; memory and disk alike."""
    cfg = load_cfg(V_FROM_A, tiny_avdigits)
    half = getattr(torch, precision)
    torch.manual_seed(0)
    plain = build(cfg)
    first = batch_of(cfg, range(8))
    loss_plain = losses_of(plain, first)
    ref = teacher_records(plain)
    for kind in ('memory', 'disk'):
        cache = memory_cache(cfg, type=kind, precision=precision)
        if kind == 'disk':
            cache['dir'] = str(tmp_path / kind)
        cached = build(cfg, teacher_cache=cache)
        cached.load_state_dict(plain.state_dict())
        loss_miss = without_hit_rate(losses_of(cached, first))
        got = teacher_records(cached)
        loss_hit = without_hit_rate(losses_of(cached, first))
        assert loss_hit == loss_miss  # one set of values for every epoch
        assert_records_equal(teacher_records(cached), got)
        for name in ref:
            for exact, served in zip(ref[name], got[name]):
                exact = exact if isinstance(exact, tuple) else (exact, )
                served = served if isinstance(served, tuple) else (served, )
                for x, y in zip(exact, served):
                    assert y.dtype == torch.float32
                    assert torch.equal(y, x.to(half).float())
        # the losses move by the half type's rounding (8 / 11 bits)
        rel = 2e-2 if precision == 'bfloat16' else 2e-3
        for k, v in loss_plain.items():
            if 'teacher_cache' not in k:
                assert loss_miss[k] == pytest.approx(v, rel=rel, abs=1e-5), k
        assert any(loss_miss[k] != loss_plain[k] for k in loss_miss)
    # the precision is part of the key: a float32 run does not read these
    keys = {
        p: build(cfg, teacher_cache=memory_cache(cfg, precision=p))
        .teacher_cache.config_digest(plain.teacher,
                                     plain.distiller.teacher_recorders)
        for p in ('float32', precision)
    }
    assert keys['float32'] != keys[precision]
    with pytest.raises(ValueError, match="precision='half'"):
        build(cfg, teacher_cache=memory_cache(cfg, precision='half'))


def test_disk_cache_persists_and_a_new_teacher_is_a_new_key(
        tiny_avdigits, tmp_path):
    cfg = load_cfg(V_FROM_A, tiny_avdigits)
    cache_cfg = dict(
        type='disk', dir=str(tmp_path / 'cache'),
        pipeline=cfg.train_dataloader.dataset.pipeline)
    teacher = build(cfg).teacher
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    batch = batch_of(cfg, range(6))

    first = build(cfg, teacher_ckpt=ckpt, teacher_cache=cache_cfg)
    calls = count_forwards(first.teacher)
    losses_of(first, batch)
    ref = teacher_records(first)
    key = first.teacher_cache.key
    assert len(calls) == 1
    assert osp.isfile(tmp_path / 'cache' / key / 'rank0' / 'leaf0.npy')
    # a second process on the same folder falls back to memory
    busy = build(cfg, teacher_ckpt=ckpt, teacher_cache=cache_cfg)
    with pytest.warns(UserWarning, match='in use by another process'):
        busy.teacher_cache.open(busy.teacher,
                                busy.distiller.teacher_recorders)
    assert not isinstance(busy.teacher_cache.store, _DiskStore)
    first.teacher_cache.close()

    # another run, same teacher and pipeline: served from disk
    again = build(cfg, teacher_ckpt=ckpt, teacher_cache=cache_cfg)
    calls = count_forwards(again.teacher)
    assert losses_of(again, batch)['teacher_cache.hit_rate'] == 1
    assert not calls and again.teacher_cache.key == key
    assert_records_equal(teacher_records(again), ref)
    again.teacher_cache.close()

    # a changed checkpoint is a new key: recomputed
    state = teacher.state_dict()
    state['head.fc.bias'] = state['head.fc.bias'] + 1
    ckpt2 = str(tmp_path / 'teacher2.pth')
    torch.save(dict(state_dict=state), ckpt2)
    changed = build(cfg, teacher_ckpt=ckpt2, teacher_cache=cache_cfg)
    calls = count_forwards(changed.teacher)
    assert losses_of(changed, batch)['teacher_cache.hit_rate'] == 0
    assert len(calls) == 1 and changed.teacher_cache.key != key
    changed.teacher_cache.close()

    # the teacher-side pipeline is part of the key, the student side not
    def key_with(pipeline):
        model = build(cfg, teacher_ckpt=ckpt,
                      teacher_cache=dict(cache_cfg, pipeline=pipeline))
        return model.teacher_cache.open(model.teacher,
                                        model.distiller.teacher_recorders)

    pipeline = copy.deepcopy(cfg.train_dataloader.dataset.pipeline)
    assert key_with(pipeline) == key
    pipeline[3].scale = 16  # the student's frame crop
    assert key_with(pipeline) == key
    pipeline[1].eps = 1e-6  # Spectrogram: the teacher's input
    assert key_with(pipeline) != key


def test_disk_rows_grow_reopen_and_lock(tmp_path):
    root = str(tmp_path / 'rank0')
    store = _DiskStore(root)
    rows = {
        i: [torch.randn(3, 2), torch.randn(4).to(torch.bfloat16)]
        for i in (0, 5, 700)  # 700: past the first capacity (256), grown
    }
    spec = ('seq', tuple, (('leaf', 0), ('leaf', 1)))  # 2 tensors
    store.set_spec(spec, rows[0])
    for i, row in rows.items():
        store.put(i, bytes([i % 256]) * 16, row)
    assert len(store) == 3 and store.capacity >= 701
    with pytest.raises(ValueError, match=r'recorded tensor 0 of sample 9'):
        store.put(9, bytes(16), [torch.randn(2, 2), rows[0][1]])
    # one process per folder: a second one is refused while it is open
    with pytest.raises(OSError):
        _DiskStore(root)
    store.close()
    again = _DiskStore(root)
    assert again.spec == spec and len(again) == 3
    assert again.get(1) is None and again.get(10**6) is None
    for i, row in rows.items():
        digest, leaves = again.get(i)
        assert digest == bytes([i % 256]) * 16
        assert all(torch.equal(a, b) for a, b in zip(leaves, row))
        assert leaves[1].dtype == torch.bfloat16
    again.close()


def test_fixed_view_serves_the_first_view(tiny_avdigits):
    cfg = load_cfg(A_FROM_V, tiny_avdigits)
    model = build(cfg, teacher_cache=memory_cache(cfg, fixed_view=True))
    plain = build(cfg)
    plain.load_state_dict(model.state_dict())
    calls = count_forwards(model.teacher)
    view1 = batch_of(cfg, range(4), seed=1)
    view2 = batch_of(cfg, range(4), seed=2)
    assert not torch.equal(view1['inputs']['visual'][0],
                           view2['inputs']['visual'][0])
    losses_of(model, view1)
    first = teacher_records(model)
    losses_of(plain, view2)
    assert losses_of(model, view2)['teacher_cache.hit_rate'] == 1
    assert len(calls) == 1
    # the teacher keeps its first view, not the one of this visit
    assert_records_equal(teacher_records(model), first)
    with pytest.raises(AssertionError):
        assert_records_equal(teacher_records(plain), first)


@pytest.mark.parametrize('kind', ['memory', 'disk'])
def test_views_keeps_several_random_views(tiny_avdigits, tmp_path, kind):
    """views=2: the first two visits of a sample compute and keep their
    views, later visits serve them in turn without the teacher."""
    cfg = load_cfg(A_FROM_V, tiny_avdigits)
    cache = memory_cache(cfg, type=kind, fixed_view=True, views=2)
    if kind == 'disk':
        cache['dir'] = str(tmp_path)
    model = build(cfg, teacher_cache=cache)
    calls = count_forwards(model.teacher)
    visits = [batch_of(cfg, range(4), seed=s) for s in (1, 2, 3, 4)]
    records, rates = [], []
    for data in visits:
        rates.append(losses_of(model, data)['teacher_cache.hit_rate'])
        records.append(teacher_records(model))
    assert calls == [4, 4] and rates == [0, 0, 1, 1]
    assert_records_equal(records[2], records[0])  # view 0 again
    assert_records_equal(records[3], records[1])  # view 1 again
    with pytest.raises(AssertionError):  # two different random views
        assert_records_equal(records[0], records[1])
    assert len(model.teacher_cache) == 8  # 4 samples x 2 views
    with pytest.raises(ValueError, match='views=2 .*needs fixed_view=True'):
        build(cfg, teacher_cache=memory_cache(cfg, views=2))
    with pytest.raises(ValueError, match='views=0 must be an integer'):
        build(cfg, teacher_cache=memory_cache(cfg, fixed_view=True,
                                              views=0))


@pytest.mark.slow
def test_cached_run_logs_the_same_losses(tiny_avdigits, tmp_path, monkeypatch):
    """Two epochs on tiny AV-digits, cache on and off, same seed."""
    # MMEngine formats the whole config with yapf for the log, the runtime
    # info and each checkpoint: seconds per call on a busy CPU, and not
    # under test here
    monkeypatch.setattr(Config, 'pretty_text', property(lambda c: c.text))

    def train(name, cache):
        cfg = Config.fromfile(V_FROM_A)
        cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits))
        cfg.model.teacher_ckpt = None
        cfg.train_dataloader.dataset.indices = 16  # 2 batches of 8
        if cache:
            cfg.model.teacher_cache = memory_cache(cfg)
        training_only(cfg, tmp_path, name, epochs=2)
        runner = Runner.from_cfg(cfg)
        epochs = []
        runner.model.teacher.register_forward_pre_hook(
            lambda *_: epochs.append(runner.epoch))
        runner.train()
        history = runner.message_hub.log_scalars
        return {
            k[len('train/'):]: v.data[0]
            for k, v in history.items()
            if k.startswith('train/') and 'loss' in k
        }, epochs

    plain, plain_epochs = train('plain', cache=False)
    cached, cached_epochs = train('cached', cache=True)
    iters = 16 // 8  # clips / batch
    assert plain_epochs == [0] * iters + [1] * iters
    assert cached_epochs == [0] * iters  # epoch 2: all served
    assert plain.keys() == cached.keys() and 'distill.loss_low' in plain
    for key in plain:
        assert len(plain[key]) == 2 * iters
        np.testing.assert_array_equal(cached[key][:iters],
                                      plain[key][:iters], err_msg=key)
        np.testing.assert_allclose(
            cached[key][iters:], plain[key][iters:], rtol=1e-4,
            err_msg=key)
