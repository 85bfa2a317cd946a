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

    def fake(config, work_dir, opts, fresh=False):
        name = work_dir.split('/')[-1]
        calls.append((config, name, opts))
        return {'accuracy/top1': accuracy[name], 'minutes': 1.0}

    monkeypatch.setattr(demo, 'train_and_test', fake)
    demo.main(['--data-root', str(tmp_path), '--work-dir', 'wd'])
    assert [c[1] for c in calls] == list(accuracy)
    fdkd, control = calls[2], calls[3]
    assert fdkd[0] == control[0] == demo.FDKD
    assert demo.FDKD == 'configs/fdkd/avdigits_audio_from_visual.py'
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
