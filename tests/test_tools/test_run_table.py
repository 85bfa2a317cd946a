"""tools/run_table.py: which runs it plans, which teacher each student gets,
resuming, progress, with a fake train_and_test (no training)."""
import argparse
import copy
import threading
import time
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config, DictAction

from fdkd_helpers import REPO_ROOT, load_script

from fdkd_plugin.utils import runs as runs_mod

run_table = load_script('tools/run_table.py')


def dump(cfg, path):
    """``cfg.dump(path)`` without its yapf formatting (0.6 s a config): the
    same Python values, one assignment per key."""
    with open(path, 'w') as f:
        f.writelines(f'{k} = {v!r}\n' for k, v in cfg.to_dict().items())


def test_plan_layout_options_and_teachers():
    runs = run_table.plan(
        'avdigits', [0, 2], ['logit', 'fdkd'], 'wd', 'data/x', epochs=3)
    assert [
        (r.seed, r.method, r.student, r.teacher, r.work_dir) for r in runs[:6]
    ] == [
        (0, 'uni', 'audio', None, 'wd/seed0/avdigits_audio'),
        (0, 'uni', 'visual', None, 'wd/seed0/avdigits_visual'),
        (0, 'logit', 'audio', 'visual', 'wd/seed0/logit_audio_from_visual'),
        (0, 'fdkd', 'audio', 'visual', 'wd/seed0/fdkd_audio_from_visual'),
        (0, 'logit', 'visual', 'audio', 'wd/seed0/logit_visual_from_audio'),
        (0, 'fdkd', 'visual', 'audio', 'wd/seed0/fdkd_visual_from_audio'),
    ]
    assert len(runs) == 12 and runs[6].work_dir == 'wd/seed2/avdigits_audio'
    assert [r.config for r in runs[:6]] == [
        'configs/unimodal/r18-w32_1xb32-12e_avdigits-audio.py',
        'configs/unimodal/r18-w32_1xb32-12e_avdigits-visual.py',
        'configs/baselines/logit/logit_r18-w32_1xb32-12e_avdigits-audio-from-'
        'visual.py',
        'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py',
        'configs/baselines/logit/logit_r18-w32_1xb32-12e_avdigits-visual-from-'
        'audio.py',
        'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-visual-from-audio.py',
    ]
    data = [
        f'{loader}.dataset.data_root=data/x'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    schedule = ['train_cfg.max_epochs=3', 'param_scheduler.0.end=3']
    assert runs[0].cfg_options == data + schedule + ['randomness.seed=0']
    # each student learns from the other modality's teacher of its seed
    assert runs[9].cfg_options == data + schedule + [
        'randomness.seed=2',
        'model.teacher_ckpt=wd/seed2/avdigits_visual/selected.pth'
    ]
    assert runs[9].teacher_dir == 'wd/seed2/avdigits_visual'
    assert runs[11].cfg_options[-1] == \
        'model.teacher_ckpt=wd/seed2/avdigits_audio/selected.pth'
    assert runs[0].teacher_dir is None
    # DML starts both networks from scratch: no checkpoint, no teacher run
    dml = run_table.plan('avdigits', [0], ['dml'], 'wd', 'data/x')[2]
    assert dml.config == ('configs/baselines/dml/dml_r18-w32_1xb32-12e_'
                          'avdigits-audio-from-visual.py')
    assert dml.teacher_dir is None
    assert not any('teacher_ckpt' in o for o in dml.cfg_options)
    # the same folders as benchmarks/avdigits_kd.py, so its runs are reused
    bench = 'work_dirs/bench_avdigits'
    assert run_table.plan('avdigits', [1], ['feat'], bench,
                          'data/avdigits')[2].work_dir == \
        f'{bench}/seed1/feat_audio_from_visual'
    assert run_table.directions_of('crisismmd') == [
        ('text_from_image', 'text', 'image'),
        ('image_from_text', 'image', 'text')
    ]
    with pytest.raises(ValueError, match=r"dataset='mnist' must be one of"):
        run_table.plan('mnist', [0], ['fdkd'], 'wd', 'data/x')


class FakeTraining:
    """train_and_test without training: reuses done.json like the real one;
    otherwise advances a fake clock and writes done.json with a value."""

    def __init__(self, minutes, fail=(), dump=False):
        self.now = 1000.0
        self.minutes = minutes  # run kind -> minutes a training takes
        self.fail = set(fail)
        self.dump = dump
        self.trained = []
        self.configs = {}  # config path -> Config, loaded once

    def clock(self):
        return self.now

    def __call__(self,
                 config,
                 work_dir,
                 cfg_options=(),
                 fresh=False,
                 quiet=False,
                 threads=None):
        assert quiet
        self.threads = threads
        done = osp.join(REPO_ROOT, work_dir, 'done.json')
        if osp.isfile(done):
            with open(done) as f:
                return json.load(f)
        name = osp.basename(work_dir)
        kind = 'kd' if '_from_' in name else name.split('_')[-1]
        self.now += 60 * self.minutes[kind]
        self.trained.append(work_dir)
        if name in self.fail:
            raise RuntimeError(f'{config} failed (1)')
        os.makedirs(work_dir, exist_ok=True)
        if self.dump:  # what MMEngine leaves: the merged config
            parser = argparse.ArgumentParser()
            parser.add_argument('--o', nargs='+', action=DictAction)
            if config not in self.configs:
                self.configs[config] = Config.fromfile(
                    osp.join(REPO_ROOT, config), lazy_import=False)
            cfg = copy.deepcopy(self.configs[config])
            cfg.merge_from_dict(parser.parse_args(['--o', *cfg_options]).o)
            dump(cfg, osp.join(work_dir, osp.basename(config)))
        seed = int(work_dir.split('seed')[-1].split(os.sep)[0])
        value = 70.0 + 10 * ('fdkd' in name) + seed + len(name) / 100
        result = {'accuracy/top1': value, 'minutes': self.minutes[kind]}
        with open(done, 'w') as f:
            json.dump(result, f)
        return result


def test_execute_resumes_and_reports_eta(tmp_path):
    wd = str(tmp_path / 'wd')
    runs = run_table.plan('avdigits', [0], ['fdkd'], wd, 'data/x')
    # the audio teacher finished earlier (5 min recorded in its done.json)
    os.makedirs(runs[0].work_dir)
    with open(osp.join(runs[0].work_dir, 'done.json'), 'w') as f:
        json.dump({'accuracy/top1': 80.2, 'minutes': 5.0}, f)
    fake = FakeTraining({'visual': 2, 'audio': 4, 'kd': 3})
    lines = []
    results = run_table.execute(
        runs,
        train=fake,
        progress=run_table.Progress(fake.clock),
        log=lines.append)
    assert fake.trained == [r.work_dir for r in runs[1:]]
    assert results[runs[0].work_dir] == {'accuracy/top1': 80.2, 'minutes': 5.0}
    # ETA: remaining runs x mean minutes of finished runs of their kind
    # (any kind before one finished): 3 x 5; 2 x mean(5, 2); 1 x 3; 0
    assert lines == [
        '[1/4] seed0 uni audio: accuracy/top1 80.20 (reused, 5.0 min) | '
        'elapsed 0:00:00 | ETA 0:15:00',
        '[2/4] seed0 uni visual: accuracy/top1 70.15 (trained, 2.0 min) | '
        'elapsed 0:02:00 | ETA 0:07:00',
        '[3/4] seed0 fdkd audio<-visual: accuracy/top1 80.22 (trained, '
        '3.0 min) | elapsed 0:05:00 | ETA 0:03:00',
        '[4/4] seed0 fdkd visual<-audio: accuracy/top1 80.22 (trained, '
        '3.0 min) | elapsed 0:08:00 | ETA 0:00:00',
    ]
    # a second sweep trains nothing
    again = FakeTraining({'visual': 2, 'audio': 4, 'kd': 3})
    run_table.execute(runs, train=again, log=lambda s: None)
    assert again.trained == []



def test_each_run_says_what_it_is(tmp_path):
    """experiment.json in every work dir, written before training: the
    collector's row for it (method, control), data set, modalities, seed,
    config."""
    wd = str(tmp_path / 'wd')
    runs = run_table.plan('avdigits', [3], ['dml', 'fdkd'], wd, 'data/x',
                          controls=['fdkd:untrained_teacher'])
    run_table.execute(runs, train=FakeTraining({'visual': 1, 'audio': 1,
                                                'kd': 1}),
                      log=lambda s: None)
    got = {}
    for run in runs:
        with open(osp.join(run.work_dir, 'experiment.json')) as f:
            got[osp.basename(run.work_dir)] = json.load(f)
    assert got['avdigits_audio'] == dict(
        method='uni', control=None, dataset='avdigits', student='audio',
        teacher=None, seed=3, config='configs/unimodal/r18-w32_1xb32-12e_'
                                     'avdigits-audio.py')
    assert got['fdkd_untrained_teacher_visual_from_audio'] == dict(
        method='fdkd', control='untrained_teacher', dataset='avdigits',
        student='visual', teacher='audio', seed=3,
        config='configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-visual-from-'
               'audio.py')
    assert got['dml_audio_from_visual']['method'] == 'dml'
    assert got['dml_audio_from_visual']['control'] is None
    with pytest.raises(ValueError, match=r"missing \['seed'\]"):
        runs_mod.write_identity(wd, method='x', control=None, dataset='d',
                                student='a', teacher=None, config='c')


def test_failed_teacher_skips_only_its_students(tmp_path):
    wd = str(tmp_path / 'wd')
    runs = run_table.plan('avdigits', [0], ['logit', 'fdkd'], wd, 'data/x')
    fake = FakeTraining({
        'visual': 1,
        'audio': 1,
        'kd': 1
    },
                        fail={'avdigits_visual'})
    lines = []
    results = run_table.execute(runs, train=fake, log=lines.append)
    # the audio students (visual teacher) are skipped, the others train
    assert [osp.basename(w) for w in fake.trained] == [
        'avdigits_audio', 'avdigits_visual', 'logit_visual_from_audio',
        'fdkd_visual_from_audio'
    ]
    assert results[runs[1].work_dir].startswith('failed: ')
    assert results[runs[2].work_dir] == 'skipped: teacher failed'
    assert 'FAILED (RuntimeError), see ' in lines[1]
    assert lines[2] == '[3/6] seed0 logit audio<-visual: skipped, its ' \
        'teacher failed'


@pytest.mark.slow
def test_main_sweeps_then_collects(tmp_path, monkeypatch, capsys):
    """The whole command with training faked: this repository's configs are
    dumped as the tools would, then collected into the table."""
    fake = FakeTraining({'visual': 1, 'audio': 1, 'kd': 1}, dump=True)
    monkeypatch.setattr(run_table, 'train_and_test', fake)
    data = tmp_path / 'data'
    data.mkdir()
    md, table_csv = str(tmp_path / 'results.md'), str(tmp_path / 't.csv')
    argv = [
        '--dataset', 'avdigits', '--seeds', '0', '1', '--methods', 'logit',
        'fdkd', '--work-dir',
        str(tmp_path / 'wd'), '--data-root',
        str(data), '--out', md, '--out-csv', table_csv
    ]
    assert run_table.main(argv) == 0
    # per seed 2 teachers, 2 x (logit, fdkd and FDKD's 2 default controls)
    assert len(fake.trained) == 20
    out = capsys.readouterr().out
    assert out.startswith('20 runs (0 done, 20 to train) under ')
    with open(md) as f:
        text = f.read()
    assert text in out
    rows = [[c.strip() for c in ln.strip('|').split('|')]
            for ln in text.splitlines() if ln.startswith('| ')]
    # fake values: 70 (+10 for FDKD) + seed + len(folder name) / 100
    assert rows == [
        ['Category', 'Method', 'AV-digits A', 'AV-digits V'],
        ['Uni-Modal', 'Uni (w/o KD)', '70.64 ± 0.71', '70.65 ± 0.71'],
        ['Logits', 'Logit', '<u>70.73 ± 0.71</u>', '<u>70.73 ± 0.71</u>'],
        ['Cross-Modal', 'Ours (FDKD)', '**80.72 ± 0.71**', '**80.72 ± 0.71**'],
        ['Controls', 'Ours (FDKD), untrained teacher', '80.90 ± 0.71',
         '80.90 ± 0.71'],
        ['', 'Ours (FDKD), no teacher terms', '80.89 ± 0.71', '80.89 ± 0.71'],
    ]
    assert 'best accuracy/top1 on the validation split (val.csv)' in text
    # resumed: nothing trained again
    assert run_table.main(argv) == 0
    assert len(fake.trained) == 20
    assert '20 runs (20 done, 0 to train)' in capsys.readouterr().out
    # --controls with nothing after it: the methods only
    assert run_table.main(argv + ['--controls']) == 0
    assert '12 runs (12 done, 0 to train)' in capsys.readouterr().out


def test_plan_puts_each_control_after_its_method():
    runs = run_table.plan(
        'avdigits', [0], ['logit', 'fdkd'], 'wd', 'data/x',
        controls=run_table.DEFAULT_CONTROLS)
    assert [(r.method, r.work_dir) for r in runs[2:6]] == [
        ('logit', 'wd/seed0/logit_audio_from_visual'),
        ('fdkd', 'wd/seed0/fdkd_audio_from_visual'),
        ('fdkd+untrained_teacher',
         'wd/seed0/fdkd_untrained_teacher_audio_from_visual'),
        ('fdkd+no_teacher_terms',
         'wd/seed0/fdkd_no_teacher_terms_audio_from_visual'),
    ]
    assert len(runs) == 2 + 2 * 4
    fdkd, control = runs[3], runs[4]
    # the method's config and options plus the one key
    assert control.config == fdkd.config
    assert control.cfg_options == fdkd.cfg_options + [
        'model.control=untrained_teacher']
    assert control.teacher_dir == fdkd.teacher_dir
    with pytest.raises(ValueError, match="control 'fdkd:random' must be"):
        run_table.plan('avdigits', [0], ['fdkd'], 'wd', 'data/x',
                       controls=['fdkd:random'])
    with pytest.raises(ValueError, match="control 'dkd:untrained_teacher'"):
        run_table.plan('avdigits', [0], ['fdkd'], 'wd', 'data/x',
                       controls=['dkd:untrained_teacher'])


def test_a_run_whose_config_changed_is_not_done(tmp_path, capsys):
    """A finished run made with another config (its fingerprint) counts as
    to train, and --dry-run says which keys changed."""
    wd = str(tmp_path / 'wd')
    argv = ['--dataset', 'avdigits', '--seeds', '0', '--methods', 'logit',
            '--controls', '--work-dir', wd, '--dry-run']
    runs = run_table.plan('avdigits', [0], ['logit'], wd,
                          run_table.config_data_root('avdigits'))
    logit = next(r for r in runs if r.method == 'logit')
    for r in runs:
        os.makedirs(r.work_dir)
        with open(osp.join(r.work_dir, 'done.json'), 'w') as f:
            json.dump({'accuracy/top1': 80.0, 'minutes': 1.0}, f)
        runs_mod._write_fingerprint(r.work_dir, r.config, r.cfg_options)
    assert all(r.is_done() for r in runs)
    assert run_table.main(argv) == 0
    assert '4 runs (4 done, 0 to train)' in capsys.readouterr().out
    # the Logit run was made with RepDistiller's CE 0.1 + KL 0.9
    path = osp.join(logit.work_dir, runs_mod.FINGERPRINT_FILE)
    with open(path) as f:
        recorded = json.load(f)
    recorded['config']['model']['student_loss_weight'] = 0.1
    recorded['config']['model']['distiller']['distill_losses']['loss_kl'][
        'loss_weight'] = 0.9
    recorded['sha256'] = 'old'
    with open(path, 'w') as f:
        json.dump(recorded, f)
    assert not logit.is_done()
    assert run_table.main(argv) == 0
    out = capsys.readouterr().out
    assert ('4 runs (3 done, 1 to train, of which 1 because their config '
            'changed)') in out
    assert 'stale  seed0 logit audio<-visual' in out
    assert ('model.distiller.distill_losses.loss_kl.loss_weight: 0.9 -> 1.0; '
            "model.student_loss_weight: 0.1 -> '<absent>'") in out


class SlowTraining:
    """Real threads, real (short) sleeps: when each run starts and ends."""

    def __init__(self):
        self.events = []  # (time, 'start' | 'end', work_dir)
        self.running = 0
        self.most = 0
        self.threads = set()
        self.lock = threading.Lock()

    def __call__(self, config, work_dir, cfg_options=(), fresh=False,
                 quiet=False, threads=None):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threads)
            self.events.append((time.monotonic(), 'start', work_dir))
        # a teacher takes longer than a student, as on the CPU
        time.sleep(0.15 if 'avdigits_' in osp.basename(work_dir) else 0.05)
        with self.lock:
            self.running -= 1
            self.events.append((time.monotonic(), 'end', work_dir))
        if 'dist_audio' in work_dir:
            raise RuntimeError('boom')
        return {'accuracy/top1': 50.0, 'minutes': 0.01}


def test_jobs_run_side_by_side_students_after_their_teacher(tmp_path,
                                                          monkeypatch):
    monkeypatch.setattr(run_table.os, 'cpu_count', lambda: 8)
    runs = run_table.plan('avdigits', [0, 1], ['fdkd', 'dist'],
                          str(tmp_path / 'wd'), 'data/x')
    fake = SlowTraining()
    lines = []
    results = run_table.execute(runs, train=fake, log=lines.append, jobs=2)
    assert fake.most == 2 and fake.threads == {4}
    assert list(results) == [r.work_dir for r in runs]
    ends = {w: t for t, kind, w in fake.events if kind == 'end'}
    for t, kind, w in fake.events:
        run = next(r for r in runs if r.work_dir == w)
        if kind == 'start' and run.teacher_dir:
            assert t >= ends[run.teacher_dir], run.name
    # a failed run is reported, the others go on
    failed = [w for w, r in results.items() if isinstance(r, str)]
    assert len(failed) == 2 and all('dist_audio' in w for w in failed)
    # a line when each run starts (side by side) and one when it ends
    assert len(lines) == 2 * len(runs)
    assert sum(': started, log ' in ln for ln in lines) == len(runs)
    assert sum('FAILED (RuntimeError)' in ln for ln in lines) == 2
    # one job: one at a time, the environment's threads
    fake1 = SlowTraining()
    run_table.execute(runs[:3], train=fake1, log=lambda _: None)
    assert fake1.most == 1 and fake1.threads == {None}
