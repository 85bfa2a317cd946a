"""make demo's driver: the FDKD row comes with its untrained-teacher
control, and the gain is split into what the teacher adds and what the
band heads add (training faked; the real steps are the tools' own tests)."""
import pytest

from fdkd_helpers import load_script

demo = load_script('tools/run_demo.py')


def test_demo_prints_the_control_under_fdkd(tmp_path, monkeypatch, capsys):
    (tmp_path / 'test.csv').write_text('x,0\n')
    calls = []
    accuracy = {
        'avdigits_visual': 78.0,
        'avdigits_audio': 80.0,
        'avdigits_audio_from_visual': 93.5,
        'avdigits_audio_from_visual_untrained_teacher': 92.25,
    }

    def fake(config, work_dir, opts, fresh=False, **kwargs):
        name = work_dir.split('/')[-1]
        calls.append((config, name, opts))
        assert kwargs == {}  # one job: the tools' output on the console
        return {'accuracy/top1': accuracy[name], 'minutes': 1.0}

    monkeypatch.setattr(demo, 'train_and_test', fake)
    demo.main(['--data-root', str(tmp_path), '--work-dir', 'wd', '--jobs',
               '1'])
    assert [c[1] for c in calls] == list(accuracy)
    fdkd, control = calls[2], calls[3]
    assert fdkd[0] == control[0] == demo.FDKD
    assert demo.FDKD == ('configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-'
                         'from-visual.py')
    teacher = 'model.teacher_ckpt=wd/avdigits_visual/selected.pth'
    assert teacher in fdkd[2]
    assert control[2] == fdkd[2][:-1] + ['model.control=untrained_teacher',
                                         teacher]
    out = capsys.readouterr().out
    rows = [[c.strip() for c in ln.split('|')[1:5]]
            for ln in out.splitlines() if ln.startswith('| FDKD')]
    assert rows == [['FDKD', 'audio', 'visual', '93.50'],
                    ['FDKD, untrained teacher', 'audio', 'visual, untrained',
                     '92.25']]
    assert ('FDKD - Uni (audio student): +13.50 points, of which the trained '
            'teacher (FDKD - FDKD with an untrained teacher): +1.25 and '
            "FDKD's own band heads (untrained teacher - Uni): +12.25") in out


def test_demo_needs_the_data(tmp_path):
    with pytest.raises(SystemExit, match='make data'):
        demo.main(['--data-root', str(tmp_path)])


def test_two_jobs_run_each_lane_in_order_on_half_the_cores(
        tmp_path, monkeypatch, capsys):
    """--jobs 2: FDKD starts only after its teacher has finished, the
    control and Uni run in the other lane, every process on half the
    cores with its output in its run.log; the table is the same."""
    import threading
    (tmp_path / 'test.csv').write_text('x,0\n')
    monkeypatch.setattr(demo.os, 'cpu_count', lambda: 2)
    finished, lanes, lock = [], {}, threading.Lock()
    teacher_done = threading.Event()
    control_started = threading.Event()

    def fake(config, work_dir, opts, fresh=False, quiet=False, threads=None):
        name = work_dir.split('/')[-1]
        assert (quiet, threads) == (True, 1)
        if name == 'avdigits_visual':
            # the control starts while the teacher trains
            assert control_started.wait(5)
            teacher_done.set()
        elif name.endswith('untrained_teacher'):
            control_started.set()
        elif name == 'avdigits_audio_from_visual':
            assert teacher_done.is_set()
        with lock:
            finished.append(name)
            lanes.setdefault(threading.get_ident(), []).append(name)
        return {'accuracy/top1': 80.0, 'minutes': 1.0}

    monkeypatch.setattr(demo, 'train_and_test', fake)
    demo.main(['--data-root', str(tmp_path), '--work-dir', 'wd'])
    assert sorted(map(tuple, lanes.values())) == [
        ('avdigits_audio_from_visual_untrained_teacher', 'avdigits_audio'),
        ('avdigits_visual', 'avdigits_audio_from_visual')]
    out = capsys.readouterr().out
    assert 'wd/avdigits_audio_from_visual/run.log' in out
    assert 'Demo wall time:' in out and '(2 job(s))' in out
    assert sum(ln.startswith('| ') for ln in out.splitlines()) == 5


def test_a_failed_step_fails_the_demo_and_names_its_log(
        tmp_path, monkeypatch, capsys):
    (tmp_path / 'test.csv').write_text('x,0\n')
    monkeypatch.setattr(demo.os, 'cpu_count', lambda: 2)

    def fake(config, work_dir, opts, **kwargs):
        if work_dir.endswith('avdigits_visual'):
            raise RuntimeError('tools/train.py failed (1)')
        return {'accuracy/top1': 80.0, 'minutes': 1.0}

    monkeypatch.setattr(demo, 'train_and_test', fake)
    with pytest.raises(RuntimeError, match='train.py failed'):
        demo.main(['--data-root', str(tmp_path), '--work-dir', 'wd'])
    out = capsys.readouterr().out
    assert '[demo] Uni (teacher) failed (log wd/avdigits_visual/run.log)' \
        in out
