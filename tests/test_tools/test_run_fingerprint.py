"""A finished or interrupted run is reused only with the config it was made
with: ``train_and_test`` records the resolved config and sets a run whose
config has changed aside (kept), naming the keys that changed."""
import json
import os
import os.path as osp
import re

import pytest

from fdkd_plugin.utils import runs

LOGIT = ('configs/baselines/logit/logit_r18-w32_1xb32-12e_avdigits-audio-'
         'from-visual.py')


class FakeTools:
    """``runs._run`` without training: records the commands; the test
    command writes the metrics file."""

    def __init__(self):
        self.commands = []

    def __call__(self, cmd, log, threads=None):
        self.commands.append(cmd)
        if 'tools/test.py' in cmd:
            out = cmd[cmd.index('--out') + 1]
            with open(osp.join(runs.REPO_ROOT, out), 'w') as f:
                json.dump({'accuracy/top1': 50.0 + len(self.commands)}, f)


@pytest.fixture
def tools(monkeypatch):
    fake = FakeTools()
    monkeypatch.setattr(runs, '_run', fake)
    return fake


def test_same_config_is_reused_a_changed_one_retrained(tools, tmp_path,
                                                       capsys):
    wd = str(tmp_path / 'logit')
    first = runs.train_and_test(LOGIT, wd, ['randomness.seed=1'])
    assert len(tools.commands) == 2
    recorded = json.load(open(osp.join(wd, runs.FINGERPRINT_FILE)))
    assert recorded['cfg_options'] == ['randomness.seed=1']
    assert recorded['config']['randomness']['seed'] == 1
    assert 'student_loss_weight' not in recorded['config']['model']
    # the code that made it, recorded (this checkout's commit)
    assert recorded['code'] == runs.code_version()
    assert recorded['code'] is None or re.fullmatch(r'[0-9a-f]{40}\+?',
                                                    recorded['code'])
    # the same config and options: reused, nothing runs
    assert runs.train_and_test(LOGIT, wd, ['randomness.seed=1']) == first
    assert len(tools.commands) == 2
    assert runs.stale_reason(wd, LOGIT, ['randomness.seed=1']) is None

    # a changed setting: the old run is kept aside, the new one trains
    changed = ['randomness.seed=1', 'model.student_loss_weight=0.1']
    why = runs.stale_reason(wd, LOGIT, changed)
    assert why == ('its config changed since it was made '
                   "(model.student_loss_weight: '<absent>' -> 0.1)")
    second = runs.train_and_test(LOGIT, wd, changed)
    assert len(tools.commands) == 4
    assert second['accuracy/top1'] == 54.0 != first['accuracy/top1']
    assert json.load(open(osp.join(wd + '.stale-1', 'done.json'))) == first
    out = capsys.readouterr().out
    assert f'{wd}: {why}; the old run is kept in {wd}.stale-1' in out
    # and the next change goes to .stale-2
    runs.train_and_test(LOGIT, wd, ['randomness.seed=2'])
    assert osp.isdir(wd + '.stale-2')


def test_interrupted_run_of_another_config_is_not_resumed(tools, tmp_path):
    wd = str(tmp_path / 'logit')
    runs.train_and_test(LOGIT, wd, ['randomness.seed=1'])
    os.remove(osp.join(wd, 'done.json'))  # as if it had stopped midway
    open(osp.join(wd, 'last_checkpoint'), 'w').close()
    runs.train_and_test(LOGIT, wd, ['randomness.seed=1'])
    assert '--resume' in tools.commands[2]  # same config: resumed
    os.remove(osp.join(wd, 'done.json'))
    open(osp.join(wd, 'last_checkpoint'), 'w').close()
    runs.train_and_test(LOGIT, wd, ['randomness.seed=3'])
    assert '--resume' not in tools.commands[4]  # another one: afresh
    assert osp.isfile(osp.join(wd + '.stale-1', 'last_checkpoint'))


def test_run_without_fingerprint_is_reused_as_before(tools, tmp_path):
    wd = tmp_path / 'old'
    wd.mkdir()
    (wd / 'done.json').write_text('{"accuracy/top1": 70.0}')
    assert runs.stale_reason(str(wd), LOGIT) is None
    assert runs.train_and_test(LOGIT, str(wd)) == {'accuracy/top1': 70.0}
    assert tools.commands == []


def test_config_changes_lists_every_changed_leaf():
    old = dict(a=dict(b=1, c=[1, 2]), d='x')
    new = dict(a=dict(b=2, c=[1, 2]), e=None)
    assert runs.config_changes(old, new) == [
        'a.b: 1 -> 2', "d: 'x' -> '<absent>'", "e: '<absent>' -> None"
    ]
    assert runs.config_changes(old, old) == []


def test_only_what_decides_the_numbers_is_fingerprinted(tmp_path):
    """A config's helper variables and its logging are not part of the
    fingerprint: renaming a helper or logging more often keeps the run;
    changing the schedule does not."""
    base = tmp_path / 'base.py'
    base.write_text(open(osp.join(runs.REPO_ROOT, LOGIT)).read().replace(
        "'../../_base_/", "'" + osp.join(runs.REPO_ROOT, 'configs',
                                         '_base_') + '/'))
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = ['{base}']\n_helper = dict(a=1)\n"
                     "default_hooks = dict(logger=dict(interval=1))\n")
    plain = runs.resolved_config(str(base))
    assert set(plain) <= set(runs.RESULT_KEYS)
    assert 'model' in plain and 'logger' not in plain['default_hooks']
    assert runs.resolved_config(str(child)) == plain
    assert runs.resolved_config(str(child), ['train_cfg.max_epochs=3']) \
        != plain
