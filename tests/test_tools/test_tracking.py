"""--tensorboard (issue 17, item 6): a tiny FDKD run writes TensorBoard
events holding the same scalars, with the same values, as MMEngine's local
backend; without the package the flag is one clear error."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from fdkd_helpers import REPO_ROOT, tiny_cfg_options
from fdkd_plugin.utils import cli

FDKD = 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'


@pytest.mark.slow
def test_tensorboard_events_match_the_local_scalars(tiny_avdigits, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    work = str(tmp_path / 'fdkd')
    opts = tiny_cfg_options(tiny_avdigits)
    opts.update({
        'train_dataloader.dataset.indices': 16,  # 2 iterations
        'train_cfg.max_epochs': 1,
        'param_scheduler.0.end': 1,
        'default_hooks.logger.interval': 1,
        'model.control': 'untrained_teacher',
    })
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', FDKD, '--work-dir', work,
         '--tensorboard', '--cfg-options',
         *[f'{k}={v}' for k, v in opts.items()]],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (vis_dir, ) = glob.glob(osp.join(work, '*', 'vis_data'))
    assert glob.glob(osp.join(vis_dir, 'events.out.tfevents.*'))
    with open(osp.join(vis_dir, 'scalars.json')) as f:
        records = [json.loads(line) for line in f]
    events = EventAccumulator(vis_dir)
    events.Reload()
    tags = set(events.Tags()['scalars'])
    train = [r for r in records if 'loss' in r]
    assert len(train) == 2
    # FDKD's terms are there to plot, with the local backend's values
    for key in ('loss', 'lr'):
        assert key in tags
    band_tags = [t for t in tags if t.endswith(('loss_low', 'loss_high'))]
    assert len(band_tags) == 2, tags
    for tag in ['loss', *band_tags]:
        logged = {e.step: e.value for e in events.Scalars(tag)}
        local = {r['step']: r[tag] for r in train}
        assert logged.keys() == local.keys()
        for step, value in local.items():
            assert logged[step] == pytest.approx(value, rel=1e-6)
    val = [r for r in records if 'accuracy/top1' in r]
    assert [e.value for e in events.Scalars('accuracy/top1')] == \
        pytest.approx([r['accuracy/top1'] for r in val])


def test_tensorboard_backend_added_once():
    cfg = Config.fromfile(osp.join(REPO_ROOT, FDKD))
    before = list(cfg.visualizer.vis_backends)
    cli.add_tensorboard(cfg)
    cli.add_tensorboard(cfg)
    types = [b['type'] for b in cfg.visualizer.vis_backends]
    assert types == [b['type'] for b in before] + ['TensorboardVisBackend']


def test_tensorboard_missing_is_one_clear_error(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, 'find_spec',
        lambda name, *a: None if name == 'tensorboard' else real(name, *a))
    cfg = Config.fromfile(osp.join(REPO_ROOT, FDKD))
    with pytest.raises(ImportError, match=r"fdkd\[optional\]"):
        cli.add_tensorboard(cfg)
