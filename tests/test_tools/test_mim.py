"""``mim train fdkd`` / ``mim test`` / ``mim run`` from a built wheel in a
fresh virtual environment, as an OpenMMLab user runs them (issue 17).

The wheel is built from a copy of the source tree; the fresh environment
has none of the project's files: its ``site-packages`` gets the wheel, and a
``.pth`` line makes the pinned stack of the test environment importable
(torch and mmcv are not installed a second time). It runs in a folder
outside the repository, so the configs and tools can only come from the
wheel's ``fdkd_plugin/.mim``.
"""
import csv
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from fdkd_helpers import REPO_ROOT, tiny_cfg_options

CONFIG = 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'
_ANYWHERE = shutil.ignore_patterns('__pycache__', '*.egg-info', '.mim')
# at the top only: configs/baselines/dist is a config folder
_AT_ROOT = {'.git', '.venv', 'data', 'work_dirs', 'build', 'dist',
            '.pytest_cache'}


def _source_skip(folder, names):
    skip = set(_ANYWHERE(folder, names))
    if osp.samefile(folder, REPO_ROOT):
        skip |= _AT_ROOT & set(names)
    return skip


def _run(args, cwd, env, timeout=600):
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout)
    assert proc.returncode == 0, (' '.join(map(str, args)) + '\n' +
                                  proc.stdout[-3000:] + proc.stderr[-5000:])
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """The project's wheel, built from a copy of the source tree."""
    tmp = tmp_path_factory.mktemp('wheel')
    src = tmp / 'src'
    shutil.copytree(REPO_ROOT, src, ignore=_source_skip, symlinks=True)
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
          '--no-build-isolation', '--disable-pip-version-check', '-w',
          str(tmp / 'dist'), str(src)], cwd=tmp, env=os.environ.copy())
    (path, ) = glob.glob(str(tmp / 'dist' / 'fdkd-*.whl'))
    return path


def test_wheel_ships_configs_tools_and_model_index(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    mim = 'fdkd_plugin/.mim/'
    configs = {
        osp.relpath(p, REPO_ROOT)
        for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                           recursive=True)
    }
    assert len(configs) > 100
    missing = sorted(c for c in configs if mim + c not in names)
    assert not missing, missing
    for tool in ('tools/train.py', 'tools/test.py', 'tools/dist_train.sh',
                 'tools/misc/print_config.py',
                 'tools/visualization/browse_dataset.py'):
        assert mim + tool in names
    assert mim + 'model-index.yml' in names
    assert mim + 'configs/fdkd/metafile.yml' in names
    assert not [n for n in names if '__pycache__' in n]
    # mim maps the distribution 'fdkd' to the module through top_level.txt
    (top_level, ) = [n for n in names if n.endswith('top_level.txt')]
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == [
        'fdkd_plugin'
    ]


@pytest.fixture(scope='module')
def fresh_env(wheel, tmp_path_factory):
    """A new virtual environment with the wheel installed; the pinned stack
    reached through a .pth line. Returns (python, env, cwd)."""
    tmp = tmp_path_factory.mktemp('fresh')
    venv = tmp / 'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)],
         cwd=tmp, env=os.environ.copy())
    python = str(venv / 'bin' / 'python')
    site = subprocess.check_output(
        [python, '-c', 'import sysconfig; print(sysconfig.get_paths()'
         "['purelib'])"], text=True).strip()
    with open(osp.join(site, '_pinned_stack.pth'), 'w') as f:
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1',
               OMP_NUM_THREADS='1')
    _run([python, '-m', 'pip', 'install', '--no-deps', '--no-index',
          '--disable-pip-version-check', '--no-compile', wheel],
         cwd=tmp, env=env)
    cwd = tmp / 'user'
    cwd.mkdir()
    return python, env, str(cwd)


@pytest.mark.slow
def test_fresh_env_imports_the_wheel_not_the_source_tree(fresh_env):
    python, env, cwd = fresh_env
    where = _run([python, '-c', 'import fdkd_plugin; print(fdkd_plugin.'
                  '__file__)'], cwd=cwd, env=env).strip().splitlines()[-1]
    assert not where.startswith(REPO_ROOT + os.sep)
    assert osp.isfile(osp.join(osp.dirname(where), '.mim', CONFIG))


@pytest.mark.slow
def test_mim_train_test_and_run_from_the_wheel(fresh_env, tiny_avdigits):
    python, env, cwd = fresh_env
    work = osp.join(cwd, 'work')
    opts = tiny_cfg_options(tiny_avdigits)
    opts.update({
        # one iteration: 8 clips at batch 8, one epoch
        'train_dataloader.dataset.indices': 8,
        'train_cfg.max_epochs': 1,
        'param_scheduler.0.end': 1,
        'default_hooks.logger.interval': 1,
        # no teacher checkpoint in a fresh folder: the control's random one
        'model.control': 'untrained_teacher',
    })
    cfg_options = [f'{k}={v}' for k, v in opts.items()]
    assert not osp.exists(osp.join(cwd, CONFIG))
    # mim looks a path that does not exist up by its file name in the
    # wheel's configs; every config name is unique, so it finds this one
    _run([python, '-m', 'mim', 'train', 'fdkd', osp.basename(CONFIG), '--gpus',
          '0', '--work-dir', work, '--cfg-options', *cfg_options],
         cwd=cwd, env=env)
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    # the config as installed with the wheel, by its path
    config = _run([python, '-c', 'import fdkd_plugin, os.path as p; print('
                   "p.join(p.dirname(fdkd_plugin.__file__), '.mim', "
                   f"'{CONFIG}'))"], cwd=cwd, env=env).strip().splitlines()[-1]
    assert osp.isfile(config) and not config.startswith(REPO_ROOT + os.sep)
    (scalars, ) = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    train = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in train] == [1]
    assert {'loss_low', 'loss_high'} <= {
        k.split('.')[-1] for k in train[0]}

    out = _run([python, '-m', 'mim', 'test', 'fdkd', config, '--gpus', '0',
                '--checkpoint', osp.join(work, 'epoch_1.pth'), '--work-dir',
                osp.join(cwd, 'test'), '--cfg-options', *cfg_options],
               cwd=cwd, env=env)
    assert 'accuracy/top1' in out

    out = _run([python, '-m', 'mim', 'run', 'fdkd', 'print_config', config],
               cwd=cwd, env=env)
    assert "type='fdkd.FreqDecoupledDistiller'" in out

    # the model index: every config with its result
    out = _run([python, '-m', 'mim', 'search', 'fdkd'], cwd=cwd, env=env)
    stem = osp.splitext(osp.basename(CONFIG))[0]
    entry = out[out.index(f'config id: {stem}\n'):]
    entry = entry[:entry.index('config id:', 10)]
    # the measured value the collector's CSV holds for this config
    with open(osp.join(REPO_ROOT, 'docs/results_avdigits_table1.csv')) as f:
        row = next(r for r in csv.DictReader(f) if r['key'] == 'fdkd')
    value = f"{float(row['avdigits_audio_mean']):.2f}".rstrip('0')
    assert re.search(r'av-digits/top_1_accuracy\s+' + re.escape(value),
                     entry), entry

