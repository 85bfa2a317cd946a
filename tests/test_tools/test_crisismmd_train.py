"""The four CrisisMMD configs train a few iterations on a tiny CrisisMMD-format
set (one row without its image) with a tiny BERT, offline: the two unimodal
teachers first, then FDKD in both directions from their checkpoints."""
import os.path as osp
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from fdkd_helpers import REPO_ROOT
from test_datasets.test_crisismmd import write_crisismmd
from test_models.test_text_classifier import (TINY_BERT,
                                              write_tiny_tokenizer)

TEXT_WIDTH = TINY_BERT['hidden_size']
CONFIGS = {
    'text': 'configs/unimodal/bert-base_1xb64-20e_crisismmd-text.py',
    'image': 'configs/unimodal/mbv2_1xb64-100e_crisismmd-image.py',
    'text_from_image': ('configs/fdkd/fdkd_mbv2_bert-base_1xb64-20e_'
                        'crisismmd-text-from-image.py'),
    'image_from_text': ('configs/fdkd/fdkd_bert-base_mbv2_1xb64-100e_'
                        'crisismmd-image-from-text.py'),
}


@pytest.fixture(scope='module')
def tiny_crisismmd(tmp_path_factory) -> Path:
    """10 train rows (one without its image), 5 dev, 5 test, and a tiny
    tokenizer in ``root / 'tok'``."""
    root = tmp_path_factory.mktemp('crisismmd')
    write_crisismmd(root, 'train', missing=(4, ))
    labels = ('affected_individuals', 'infrastructure_and_utility_damage',
              'rescue_volunteering_or_donation_effort',
              'other_relevant_information', 'not_humanitarian')
    write_crisismmd(root, 'dev', labels=labels)
    write_crisismmd(root, 'test', labels=labels)
    write_tiny_tokenizer(root / 'tok')
    return root


def _shrink_pipeline(pipeline, tokenizer: str) -> None:
    """Tiny tokenizer, 16 tokens, 64-pixel images."""
    for t in pipeline:
        if t['type'] == 'fdkd.TokenizeText':
            t.update(tokenizer=tokenizer, max_length=16)
        if t['type'] == 'KeyMapper':
            for inner in t['transforms']:
                if inner['type'] == 'mmpretrain.RandomResizedCrop':
                    inner['scale'] = 64
                if inner['type'] == 'mmpretrain.ResizeEdge':
                    inner['scale'] = 72
                if inner['type'] == 'CenterCrop':
                    inner['crop_size'] = 64


#: What ``Runner.from_cfg`` reads. The rest (the bases' named pipelines and
#: distiller variants) is only printed (see ``unformatted_config_text``).
RUNNER_KEYS = ('model', 'work_dir', 'train_dataloader', 'val_dataloader',
               'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg',
               'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
               'val_evaluator', 'test_evaluator', 'default_hooks',
               'custom_hooks', 'load_from', 'resume', 'launcher', 'env_cfg',
               'log_processor', 'log_level', 'visualizer', 'default_scope',
               'randomness', 'experiment_name', 'custom_imports')


def _tiny_text_model(model: dict) -> None:
    model.update(pretrained=None, config=TINY_BERT)
    model['head']['in_channels'] = TEXT_WIDTH


def tiny_cfg(name: str, root: Path, work_dir: Path, teacher_ckpt=None):
    """A crisismmd config on the tiny set, tiny BERT, 1 epoch, batch 4."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIGS[name]))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=4, num_workers=0,
                           persistent_workers=False)
        cfg[loader].dataset.data_root = str(root)
        # no pickled copy of 5-10 rows (it runs a gc.collect, ~1 s here)
        cfg[loader].dataset.serialize_data = False
        _shrink_pipeline(cfg[loader].dataset.pipeline, str(root / 'tok'))
    model = cfg.model
    if name == 'text':
        _tiny_text_model(model)
    elif name == 'text_from_image':
        _tiny_text_model(model.architecture)
        model.distiller.student_connector.module_args.in_features = \
            TEXT_WIDTH
    elif name == 'image_from_text':
        _tiny_text_model(model.teacher)
        model.distiller.in_channels = TEXT_WIDTH
        model.distiller.student_connector.module_args.out_features = \
            TEXT_WIDTH
    if teacher_ckpt is not None:
        model.teacher_ckpt = teacher_ckpt
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler[0].end = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    for key in set(cfg.keys()) - set(RUNNER_KEYS):
        cfg.pop(key)
    return cfg


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.fixture
def unformatted_config_text(monkeypatch):
    """The runner prints and saves ``cfg.pretty_text`` several times per
    run; yapf's beautification of it costs ~1 s a time on these configs.
    The text stays valid Python, only unformatted."""
    import mmengine.config.config as config_module
    monkeypatch.setattr(config_module, 'FormatCode',
                        lambda text, **kwargs: (text, False))


@pytest.mark.slow
@pytest.mark.usefixtures('unformatted_config_text')
def test_unimodal_then_fdkd_both_directions(tiny_crisismmd, tmp_path):
    root = tiny_crisismmd
    selected, optimizers = {}, {}
    for name in ('text', 'image'):
        cfg = tiny_cfg(name, root, tmp_path / name)
        runner = Runner.from_cfg(cfg)
        start = _snapshot(runner.model)
        with pytest.warns(UserWarning, match='skipped 1 of 10 rows'):
            runner.train()
        # 9 rows with images, batch 4: 3 iterations, then validation
        assert runner.iter == 3
        assert len(runner.train_dataloader.dataset) == 9
        scalars = runner.message_hub.log_scalars
        assert torch.isfinite(torch.tensor(
            scalars['train/loss'].current())), name
        assert 'val/accuracy/top1' in scalars, sorted(scalars)
        moved = [k for k, v in _snapshot(runner.model).items()
                 if v.is_floating_point() and not torch.equal(v, start[k])]
        assert any(k.startswith('backbone.') for k in moved), name
        assert any(k.startswith('head.') for k in moved), name
        selected[name] = osp.join(str(tmp_path / name), 'selected.pth')
        assert osp.isfile(selected[name])
        optimizers[name] = runner.optim_wrapper.optimizer
    # BERT trains with Adam at a fixed 1e-5, MobileNetV2 with SGD + poly
    assert type(optimizers['text']).__name__ == 'Adam'
    assert optimizers['text'].param_groups[0]['lr'] == pytest.approx(1e-5)
    assert type(optimizers['image']).__name__ == 'SGD'
    assert optimizers['image'].param_groups[0]['momentum'] == 0.9

    for name, teacher in (('text_from_image', 'image'),
                          ('image_from_text', 'text')):
        cfg = tiny_cfg(name, root, tmp_path / name, selected[teacher])
        runner = Runner.from_cfg(cfg)
        model = runner.model
        teacher_state = torch.load(
            selected[teacher], map_location='cpu',
            weights_only=False)['state_dict']  # written by this test
        for k, v in _snapshot(model.teacher).items():
            assert torch.equal(v, teacher_state[k]), f'{name}: {k} not loaded'
        connector0 = _snapshot(model.distiller.student_connector)
        with pytest.warns(UserWarning, match='skipped 1 of 10 rows'):
            runner.train()
        assert runner.iter == 3
        scalars = runner.message_hub.log_scalars
        for key in ('train/student.loss', 'train/distill.loss_low',
                    'train/distill.loss_high',
                    'train/distill.loss_align_low_teacher',
                    'train/distill.loss_task_high',
                    'val/accuracy/top1', 'val/teacher/accuracy/top1'):
            assert key in scalars, f'{name}: {key} not in {sorted(scalars)}'
            assert torch.isfinite(torch.tensor(scalars[key].current()))
        # the frozen teacher is unchanged; the width connector learned
        for k, v in _snapshot(model.teacher).items():
            assert torch.equal(v, teacher_state[k]), f'{name}: {k} changed'
        assert any(not torch.equal(v, connector0[k]) for k, v in
                   _snapshot(model.distiller.student_connector).items())
        if name == 'text_from_image':
            # paramwise_cfg: the distiller at 100 x the BERT lr
            lrs = {round(g['lr'], 8) for g in
                   runner.optim_wrapper.optimizer.param_groups}
            assert lrs == {1e-5, 1e-3}
