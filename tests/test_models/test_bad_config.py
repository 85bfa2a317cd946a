"""Bad configs and data that do not fit the model get an error naming the
config key, the file and the fix, at model build or before the first
training step: a missing teacher checkpoint, a teacher checkpoint of
another network (loaded strictly), different class counts, labels outside
the head, a modality typo, a batch of one sample at a training
BatchNorm."""
import copy
import os
import os.path as osp
import re
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.structures import DataSample

from fdkd_plugin.datasets.labelled_dataset import LabelledDataset
from fdkd_plugin.engine.data_model_check_hook import DataModelCheckHook
from fdkd_plugin.registry import DATASETS, MODELS

from fdkd_helpers import REPO_ROOT, tiny_cfg_options

A_FROM_V = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                               'audio-from-visual.py')
V_FROM_A = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                               'visual-from-audio.py')
BI = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                         'bidirectional.py')
NYU = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-'
                          'depth-from-rgb.py')


def build(model_cfg):
    with DefaultScope.overwrite_default_scope('fdkd'):
        return MODELS.build(copy.deepcopy(model_cfg))


def model_cfg(path=A_FROM_V, **changes):
    cfg = Config.fromfile(path).model
    cfg.teacher_ckpt = None
    cfg.update(changes)
    return cfg


def save(state: dict, path) -> str:
    torch.save(dict(state_dict=state), str(path))
    return str(path)


def teacher_ckpt_of(path, tmp_path, **teacher_changes) -> str:
    """A checkpoint of the config's teacher network, as a unimodal run
    leaves it."""
    teacher_cfg = copy.deepcopy(Config.fromfile(path).model.teacher)
    for key, value in teacher_changes.items():
        node = teacher_cfg
        *parents, leaf = key.split('.')
        for p in parents:
            node = node[p]
        node[leaf] = value
    teacher = build(teacher_cfg)
    teacher.init_weights()
    return save(teacher.state_dict(), tmp_path / 'teacher.pth')


# ---------------------------------------------------------------------------
# teacher checkpoint missing
# ---------------------------------------------------------------------------
def test_missing_teacher_ckpt_names_the_unimodal_config_that_trains_it(
        tmp_path, monkeypatch):
    # a fresh clone: no work_dirs/ (the check runs before any network is
    # built, so the DeepLabV3+ networks and their ImageNet init never load)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '4')
    cfg = Config.fromfile(NYU).model
    with pytest.raises(FileNotFoundError) as err:
        build(cfg)
    assert str(err.value) == (
        'teacher checkpoint work_dirs/r18-deeplabv3plus_4xb4-50e_nyu-rgb/'
        'selected.pth does not exist: '
        'train the teacher first: tools/dist_train.sh '
        'configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-rgb.py 4 (or python '
        'tools/train.py '
        'configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-rgb.py), or set '
        'model.teacher_ckpt to an '
        'existing checkpoint')


def test_missing_teacher_ckpt_in_one_process_and_another_work_dir(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('LOCAL_WORLD_SIZE', raising=False)
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    # a work dir named after the teacher's config name from before 0.2
    cfg = model_cfg(teacher_ckpt='runs/avdigits_visual/selected.pth')
    with pytest.raises(FileNotFoundError,
                       match=re.escape(
                           'tools/dist_train.sh configs/unimodal/r18-w32_'
                           '1xb32-12e_avdigits-visual.py N --work-dir runs/'
                           'avdigits_visual (or python tools/train.py '
                           'configs/unimodal/r18-w32_1xb32-12e_avdigits-'
                           'visual.py --work-dir runs/avdigits_visual)')):
        build(cfg)


def test_missing_teacher_ckpt_without_a_matching_config_says_so_generically(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = model_cfg(teacher_ckpt='downloads/teacher.pth')
    with pytest.raises(FileNotFoundError) as err:
        build(cfg)
    assert str(err.value) == (
        'teacher checkpoint downloads/teacher.pth does not exist: train the '
        'teacher first with its unimodal config (tools/dist_train.sh CONFIG '
        'N, or python tools/train.py CONFIG, leaves work_dirs/<config name>/'
        'selected.pth), or set model.teacher_ckpt to an existing checkpoint')


def test_dangling_selected_link_says_where_it_points(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs('work_dirs/r18-w32_1xb32-12e_avdigits-visual')
    os.symlink('best_accuracy_top1_epoch_3.pth',
               'work_dirs/r18-w32_1xb32-12e_avdigits-visual/selected.pth')
    cfg = model_cfg(teacher_ckpt='work_dirs/r18-w32_1xb32-12e_avdigits-visual/'
                                 'selected.pth')
    with pytest.raises(
            FileNotFoundError,
            match=re.escape('(it is a link to best_accuracy_top1_epoch_3.pth,'
                            ' which does not: the teacher run saved no '
                            'checkpoint yet, or its files moved)')):
        build(cfg)


def test_bidirectional_missing_teacher_names_the_direction_key(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(BI).model
    with pytest.raises(
            FileNotFoundError,
            match=re.escape('configs/unimodal/r18-w32_1xb32-12e_avdigits-'
                            'visual.py), or set '
                            'model.directions.a_from_v.teacher_ckpt')):
        build(cfg)


# ---------------------------------------------------------------------------
# teacher checkpoints load strictly
# ---------------------------------------------------------------------------
def test_matching_teacher_ckpt_loads_every_tensor(tmp_path):
    ckpt = teacher_ckpt_of(A_FROM_V, tmp_path)
    state = torch.load(ckpt)['state_dict']
    # a checkpoint written from a DDP-wrapped model loads too
    prefixed = save({f'module.{k}': v for k, v in state.items()},
                    tmp_path / 'ddp.pth')
    for path in (ckpt, prefixed):
        model = build(model_cfg(teacher_ckpt=path))
        loaded = model.teacher.state_dict()
        assert sorted(loaded) == sorted(state)
        for k, v in state.items():
            assert torch.equal(loaded[k], v), k


def test_audio_ckpt_as_visual_teacher_lists_the_shape_mismatch(tmp_path):
    # the audio network's stem takes 1 channel, the visual one's 3
    audio_ckpt = teacher_ckpt_of(V_FROM_A, tmp_path)
    with pytest.raises(ValueError) as err:
        build(model_cfg(teacher_ckpt=audio_ckpt))
    msg = str(err.value)
    assert msg.startswith(f'model.teacher_ckpt={audio_ckpt} does not fit '
                          'model.teacher (ImageClassifier): 1 shapes differ: '
                          'backbone.conv1.weight: checkpoint (32, 1, 7, 7), '
                          'model (32, 3, 7, 7). Teacher checkpoints load '
                          'strictly')


def test_teacher_head_with_another_class_count_is_refused(tmp_path):
    ckpt = teacher_ckpt_of(A_FROM_V, tmp_path, **{'head.num_classes': 6})
    with pytest.raises(
            ValueError,
            match=re.escape('2 shapes differ: head.fc.weight: checkpoint '
                            '(6, 256), model (10, 256), head.fc.bias: '
                            'checkpoint (6,), model (10,)')):
        build(model_cfg(teacher_ckpt=ckpt))


def test_missing_and_unexpected_keys_are_listed_with_their_count(tmp_path):
    state = torch.load(teacher_ckpt_of(A_FROM_V, tmp_path))['state_dict']
    layer4 = [k for k in state if k.startswith('backbone.layer4.')]
    for k in layer4:
        state[k.replace('layer4', 'layer5')] = state.pop(k)
    ckpt = save(state, tmp_path / 'renamed.pth')
    with pytest.raises(ValueError) as err:
        build(model_cfg(teacher_ckpt=ckpt))
    msg = str(err.value)
    n = len(layer4)
    assert f'{n} keys of the model are missing from the checkpoint: ' \
           f'{layer4[0]}' in msg
    assert f'(+{n - 5} more); {n} keys of the checkpoint are not in the ' \
           'model: backbone.layer5.' in msg


def test_distillation_ckpt_as_teacher_gives_the_extraction_command(
        tmp_path):
    distilled = build(model_cfg(V_FROM_A))
    ckpt = save(distilled.state_dict(), tmp_path / 'distilled.pth')
    with pytest.raises(ValueError) as err:
        build(model_cfg(teacher_ckpt=ckpt))
    stem = str(tmp_path / 'distilled')
    assert str(err.value) == (
        f'model.teacher_ckpt={ckpt} does not fit model.teacher '
        '(ImageClassifier): this is a distillation checkpoint '
        '(architecture.*, teacher.*, distiller.*), not a single network; '
        'extract its student with python tools/model_converters/'
        f'extract_student.py {ckpt} {stem}_student.pth (add --part teacher '
        'for its teacher) and set the teacher checkpoint to the result')


def test_bidirectional_ckpt_as_teacher_names_its_directions(tmp_path):
    cfg = Config.fromfile(BI).model
    for direction in cfg.directions.values():
        direction.teacher_ckpt = None
    ckpt = save(build(cfg).state_dict(), tmp_path / 'bi.pth')
    with pytest.raises(
            ValueError,
            match=re.escape("(one student per direction: ['a_from_v', "
                            "'v_from_a']); extract the student")) as err:
        build(model_cfg(teacher_ckpt=ckpt))
    assert '--student a_from_v' in str(err.value)


# ---------------------------------------------------------------------------
# class counts
# ---------------------------------------------------------------------------
def test_teacher_and_student_class_counts_must_agree():
    cfg = model_cfg()
    cfg.teacher.head.num_classes = 6
    with pytest.raises(ValueError) as err:
        build(cfg)
    assert str(err.value).startswith(
        'class counts differ: model.architecture.head.num_classes=10, '
        'model.teacher.head.num_classes=6, model.distiller.num_classes=10; '
        'teacher and student of cross-modal distillation classify the same '
        'labels')


def test_bidirectional_class_counts_name_the_direction():
    cfg = Config.fromfile(BI).model
    for direction in cfg.directions.values():
        direction.teacher_ckpt = None
    cfg.directions.v_from_a.distiller.num_classes = 12
    with pytest.raises(
            ValueError,
            match=re.escape('model.directions.v_from_a.distiller.'
                            'num_classes=12')):
        build(cfg)


def _batch(labels, clip_ids, n_visual=None):
    n = len(labels)
    samples = [
        DataSample(metainfo=dict(clip_id=c)).set_gt_label(label)
        for label, c in zip(labels, clip_ids)
    ]
    inputs = dict(
        audio=torch.randn(n, 1, 129, 63),
        visual=torch.randn(n_visual or n, 3, 32, 32))
    return inputs, samples


def test_label_outside_the_head_is_refused_in_the_loss_naming_the_clip():
    model = build(model_cfg()).train()
    inputs, samples = _batch([3, 10, 1], ['c0', 'c1', 'c2'])
    with pytest.raises(ValueError) as err:
        model.loss(inputs, samples)
    assert str(err.value).startswith(
        "label 10 of clip_id='c1' is outside [0, 10) where "
        'model.architecture.head.num_classes=10')


# ---------------------------------------------------------------------------
# the hook: data against model, before the first step
# ---------------------------------------------------------------------------
def fake_runner(model, data_root, path=A_FROM_V, **loader):
    """What DataModelCheckHook reads of a Runner: the model, the training
    loader (built by MMEngine from the config) and the validation loop."""
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(tiny_cfg_options(data_root))
    cfg.train_dataloader.update(loader)
    with DefaultScope.overwrite_default_scope('fdkd'):
        train = Runner.build_dataloader(cfg.train_dataloader)
    return SimpleNamespace(model=model, train_dataloader=train, val_loop=None)


def test_runtime_config_enables_the_hook():
    hooks = [h['type'] for h in Config.fromfile(A_FROM_V).custom_hooks]
    assert 'fdkd.DataModelCheckHook' in hooks


def test_hook_refuses_a_data_set_with_more_classes_than_the_heads(
        tiny_avdigits):
    cfg = model_cfg()
    for part in (cfg.architecture, cfg.teacher):
        part.head.num_classes = 6
    cfg.distiller.num_classes = 6
    runner = fake_runner(build(cfg), tiny_avdigits)
    with pytest.raises(ValueError) as err:
        DataModelCheckHook().before_train(runner)
    ann = osp.join(tiny_avdigits, 'train.csv')
    assert str(err.value).startswith(
        f'train_dataloader.dataset ({ann}) has 10 classes but '
        'model.architecture.head.num_classes=6: labels 6..9 would index '
        'past the head; set model.architecture.head.num_classes=10')


class _NumericLabels(LabelledDataset):
    """Rows with integer labels and no class names (as a csv of numbers)."""

    def __init__(self, labels, **kwargs):
        self._labels = labels
        super().__init__(ann_file='numbers.csv', serialize_data=False,
                         **kwargs)

    def load_data_list(self):
        return [dict(clip_id=f'row{i}', gt_label=label)
                for i, label in enumerate(self._labels)]


def test_hook_finds_the_first_label_outside_the_head():
    model = build(model_cfg())
    dataset = _NumericLabels([0, 9, 12, 3, 15])
    loader = torch.utils.data.DataLoader(dataset, batch_size=2)
    runner = SimpleNamespace(model=model, train_dataloader=loader,
                             val_loop=None)
    with pytest.raises(ValueError) as err:
        DataModelCheckHook().before_train(runner)
    assert str(err.value) == (
        "train_dataloader.dataset (numbers.csv): sample 2 ('row2') has "
        'label 12, outside [0, 10) of model.architecture.head.num_classes=10;'
        ' fix the label in numbers.csv or set '
        "model.architecture.head.num_classes to the data set's class count")


def test_student_modality_typo_is_named_before_training(tiny_avdigits):
    model = build(model_cfg(student_modality='audoi'))
    runner = fake_runner(model, tiny_avdigits)
    with pytest.raises(ValueError) as err:
        DataModelCheckHook().before_train(runner)
    assert str(err.value) == (
        "model.student_modality='audoi' is not a modality the "
        "train_dataloader pipeline packs (PackMultiModalInputs(modalities="
        "('audio', 'visual'))): set model.student_modality to one of "
        "['audio', 'visual'], or add 'audoi' to the pipeline")
    # and without the hook, at the first batch
    inputs, samples = _batch([1, 2], ['c0', 'c1'])
    with pytest.raises(KeyError,
                       match=re.escape("model.student_modality='audoi' is not"
                                       " in the batch, which holds ['audio', "
                                       "'visual']")):
        model.train().loss(inputs, samples)


def test_unimodal_preprocessor_modality_typo_is_named(tiny_avdigits):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/unimodal/r18-w32_1xb32-12e_avdigits-'
                            'visual.py'))
    cfg.model.data_preprocessor.modality = 'visaul'
    model = build(cfg.model)
    runner = fake_runner(
        model, tiny_avdigits,
        osp.join(REPO_ROOT, 'configs/unimodal/r18-w32_1xb32-12e_avdigits-'
                            'visual.py'))
    with pytest.raises(
            ValueError,
            match=re.escape("model.data_preprocessor.modality='visaul' is not"
                            ' a modality the train_dataloader pipeline packs '
                            "(PackMultiModalInputs(modalities=('visual',)))")):
        DataModelCheckHook().before_train(runner)


# ---------------------------------------------------------------------------
# a batch of one sample at a training BatchNorm
# ---------------------------------------------------------------------------
def _first_iteration(runner, hook):
    """One training forward of the first batch, as the train loop runs it,
    then the hook's after_train_iter."""
    model = runner.model.train()
    data = model.data_preprocessor(next(iter(runner.train_dataloader)), True)
    model(**data, mode='loss')
    hook.after_train_iter(runner, 0)


def test_last_batch_of_one_at_a_pooled_batch_norm_stops_after_one_step(
        tiny_avdigits):
    # 40 clips at batch 3: the 14th batch holds 1 clip. The visual student
    # sees 32x32 frames: layer4's BatchNorm normalizes a 1x1 map.
    runner = fake_runner(build(model_cfg(V_FROM_A)), tiny_avdigits,
                         batch_size=3)
    hook = DataModelCheckHook()
    hook.before_train(runner)
    with pytest.raises(ValueError) as err:
        _first_iteration(runner, hook)
    msg = str(err.value)
    assert msg.startswith(
        'the last training batch of an epoch holds 1 sample (40 samples '
        'over 1 process(es), 40 a process, at train_dataloader.batch_size=3 '
        'with drop_last=False), and BatchNorm layer '
        'architecture.backbone.layer4.0.bn1 normalizes one value per sample '
        'and channel (its input in the first iteration: (3, 256, 1, 1);')
    assert msg.endswith('Set train_dataloader.drop_last=True (leaves that '
                        'sample out for the epoch) or choose another '
                        'train_dataloader.batch_size')
    # the hook's forward pre-hooks are gone after the first iteration
    assert not any(m._forward_pre_hooks for m in runner.model.modules()
                   if isinstance(m, torch.nn.BatchNorm2d))


def test_last_batch_of_one_is_fine_with_drop_last(tiny_avdigits):
    runner = fake_runner(build(model_cfg(V_FROM_A)), tiny_avdigits,
                         batch_size=3, drop_last=True)
    hook = DataModelCheckHook()
    hook.before_train(runner)
    assert hook._bn_handles == []
    _first_iteration(runner, hook)


def test_batch_size_one_names_the_layer_at_the_first_step(tiny_avdigits):
    runner = fake_runner(build(model_cfg(V_FROM_A)), tiny_avdigits,
                         batch_size=1)
    hook = DataModelCheckHook()
    hook.before_train(runner)
    with pytest.raises(
            ValueError,
            match=re.escape('train_dataloader.batch_size=1: a batch of 1 '
                            'sample reached BatchNorm layer architecture.'
                            'backbone.layer4.0.bn1 (input (1, 256, 1, 1)), '
                            'which cannot train on one value per channel')):
        _first_iteration(runner, hook)


def test_batch_of_one_without_the_hook_names_the_loader_keys():
    model = build(model_cfg(V_FROM_A)).train()
    inputs, samples = _batch([4], ['c0'])
    with pytest.raises(ValueError) as err:
        model.loss(inputs, samples)
    assert str(err.value).startswith(
        'a training batch of 1 sample reached a BatchNorm layer, which '
        'cannot compute statistics from one value per channel (Expected '
        'more than 1 value per channel when training')
    assert str(err.value).endswith(
        "set train_dataloader.drop_last=True (the data set's size leaves a "
        'last batch of 1 sample) or train_dataloader.batch_size >= 2')


def test_preprocessor_with_num_classes_refuses_a_label_on_the_host():
    from fdkd_plugin.models.data_preprocessors import \
        MultiModalDataPreprocessor
    pre = MultiModalDataPreprocessor(modality='visual', num_classes=10)
    inputs, samples = _batch([2, 11], ['c0', 'c1'])
    data = dict(inputs=inputs, data_samples=samples)
    with pytest.raises(
            ValueError,
            match=re.escape("label 11 of clip_id='c1' is outside [0, 10) "
                            'where model.data_preprocessor.num_classes=10')):
        pre(data, training=True)
    # not in validation / test, where no loss indexes the head
    assert pre(data, training=False)['inputs'].shape == (2, 3, 32, 32)
