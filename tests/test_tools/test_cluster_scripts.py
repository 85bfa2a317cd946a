"""tools/slurm_train.sh, slurm_test.sh and misc/print_config.py with
MMPretrain's arguments (issue 17, item 8). srun is replaced by a stub that
records its command line: the scripts' job is to build that line."""
import os
import os.path as osp
import stat
import subprocess

import pytest

from fdkd_helpers import REPO_ROOT, load_script

FDKD = 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'


@pytest.fixture
def fake_srun(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    log = tmp_path / 'srun.args'
    srun = bin_dir / 'srun'
    srun.write_text('#!/usr/bin/env bash\n'
                    f'printf "%s\\n" "$@" > {log}\n'
                    'printf "PYTHONPATH=%s\\n" "$PYTHONPATH" >> '
                    f'{log}\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}')
    return env, log


def _lines(log):
    return log.read_text().splitlines()


def test_slurm_train_builds_mmpretrains_srun_line(fake_srun, tmp_path):
    env, log = fake_srun
    env.update(GPUS='4', GPUS_PER_NODE='2', CPUS_PER_TASK='3',
               SRUN_ARGS='--quotatype=auto --time=10')
    subprocess.run(['bash', 'tools/slurm_train.sh', 'gpu', 'fdkd-a', FDKD,
                    'work_dirs/x', '--amp', '--cfg-options', 'a.b=1'],
                   cwd=REPO_ROOT, env=env, check=True)
    args = _lines(log)
    assert args[:7] == ['-p', 'gpu', '--job-name=fdkd-a', '--gres=gpu:2',
                        '--ntasks=4', '--ntasks-per-node=2',
                        '--cpus-per-task=3']
    assert args[7:10] == ['--kill-on-bad-exit=1', '--quotatype=auto',
                          '--time=10']
    assert args[10:12] == ['python', '-u']
    assert args[12] == osp.join(REPO_ROOT, 'tools', 'train.py')
    assert args[13:19] == [FDKD, '--work-dir=work_dirs/x', '--launcher=slurm',
                           '--amp', '--cfg-options', 'a.b=1']
    assert args[19].startswith(f'PYTHONPATH={REPO_ROOT}')


def test_slurm_test_defaults_and_checkpoint(fake_srun):
    env, log = fake_srun
    for key in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS'):
        env.pop(key, None)
    subprocess.run(['bash', 'tools/slurm_test.sh', 'p', 'j', FDKD, 'c.pth'],
                   cwd=REPO_ROOT, env=env, check=True)
    args = _lines(log)
    assert args[:8] == ['-p', 'p', '--job-name=j', '--gres=gpu:8',
                        '--ntasks=8', '--ntasks-per-node=8',
                        '--cpus-per-task=5', '--kill-on-bad-exit=1']
    assert args[8:13] == ['python', '-u',
                             osp.join(REPO_ROOT, 'tools', 'test.py'), FDKD,
                             'c.pth']
    assert args[13] == '--launcher=slurm'


@pytest.mark.parametrize('script', ['slurm_train.sh', 'slurm_test.sh'])
def test_slurm_scripts_refuse_missing_arguments(script, fake_srun):
    env, log = fake_srun
    proc = subprocess.run(['bash', f'tools/{script}', 'p', 'j', FDKD],
                          cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert 'usage:' in proc.stderr
    assert not log.exists()


def test_print_config_resolves_bases_and_options(capsys):
    tool = load_script('tools/misc/print_config.py')
    assert tool.main([
        osp.join(REPO_ROOT, FDKD), '--cfg-options',
        'model.distiller.reduction=sum_per_sample'
    ]) == 0
    out = capsys.readouterr().out
    # from the base files: the distiller, the runtime's hooks
    assert "type='fdkd.FreqDecoupledDistiller'" in out
    assert "type='fdkd.NonFiniteLossHook'" in out
    model = out[out.index('\nmodel = dict('):]
    # up to the next top-level name (the model's dict ends with its type)
    model = model[:model.index("type='fdkd.CrossModalDistill')\n")]
    assert "reduction='sum_per_sample'" in model
    assert "reduction='mean'" not in model


def test_print_config_names_a_missing_file(tmp_path):
    tool = load_script('tools/misc/print_config.py')
    missing = str(tmp_path / 'nope.py')
    with pytest.raises(FileNotFoundError, match='nope.py'):
        tool.main([missing])
