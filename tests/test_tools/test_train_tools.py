"""tools/train.py, test.py, dist_train.sh, dist_test.sh and extract_student.py
on tiny AV-digits, as a user runs them."""
import glob
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import pytest
import torch

from fdkd_helpers import REPO_ROOT, load_script, tiny_cfg_options

UNI_AUDIO = 'configs/unimodal/r18-w32_1xb32-12e_avdigits-audio.py'
UNI_VISUAL = 'configs/unimodal/r18-w32_1xb32-12e_avdigits-visual.py'
FDKD = 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'


def options(data_root, epochs=1, **extra):
    opts = tiny_cfg_options(data_root)
    opts.update({
        'train_cfg.max_epochs': epochs,
        'param_scheduler.0.end': epochs,
        'default_hooks.logger.interval': 1,
    })
    opts.update(extra)
    return [f'{k}={v}' for k, v in opts.items()]


def run_tool(args, timeout=600, env=None):
    proc = subprocess.run(
        args,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_train_resume_test_and_extract(tiny_avdigits, tmp_path):
    work = str(tmp_path / 'uni_visual')
    # 1 epoch, then resume from its last checkpoint to 2 epochs
    run_tool([
        sys.executable, 'tools/train.py', UNI_VISUAL, '--work-dir', work,
        '--cfg-options', *options(tiny_avdigits, epochs=1)
    ])
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    out = run_tool([
        sys.executable, 'tools/train.py', UNI_VISUAL, '--work-dir', work,
        '--resume', '--cfg-options', *options(tiny_avdigits, epochs=2)
    ])
    assert re.search(r'resumed epoch: 1, iter: \d+', out), out[-2000:]
    assert re.search(r'Epoch\(train\)\s+\[2\]', out)
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
    selected = osp.join(work, 'selected.pth')
    assert osp.islink(selected) and osp.isfile(selected)
    assert os.readlink(selected).startswith('best_accuracy_top1_epoch_')

    # a distillation run from that teacher, then its student as a plain
    # unimodal checkpoint evaluated with the unimodal config
    fdkd = str(tmp_path / 'fdkd')
    run_tool([
        sys.executable, 'tools/train.py', FDKD, '--work-dir', fdkd,
        '--cfg-options', *options(
            tiny_avdigits, epochs=1, **{'model.teacher_ckpt': selected})
    ])
    extract = load_script('tools/model_converters/extract_student.py')
    student_ckpt = str(tmp_path / 'student.pth')
    extract.main([osp.join(fdkd, 'selected.pth'), student_ckpt])
    plain = torch.load(student_ckpt, weights_only=True)  # plain tensors only
    assert all(not k.startswith(('architecture.', 'teacher.', 'distiller.'))
               for k in plain['state_dict'])
    assert 'backbone.conv1.weight' in plain['state_dict']
    metrics_file = str(tmp_path / 'metrics.json')
    run_tool([
        sys.executable, 'tools/test.py', UNI_AUDIO, student_ckpt,
        '--work-dir', str(tmp_path / 'test_student'), '--out', metrics_file,
        '--cfg-options', *options(tiny_avdigits)
    ])
    with open(metrics_file) as f:
        plain_acc = json.load(f)['accuracy/top1']
    # same number as testing the distillation checkpoint itself
    distill_file = str(tmp_path / 'distill_metrics.json')
    run_tool([
        sys.executable, 'tools/test.py', FDKD,
        osp.join(fdkd, 'selected.pth'), '--work-dir',
        str(tmp_path / 'test_fdkd'), '--out', distill_file, '--cfg-options',
        *options(tiny_avdigits, **{'model.teacher_ckpt': None})
    ])
    with open(distill_file) as f:
        distill = json.load(f)
    assert distill['accuracy/top1'] == pytest.approx(plain_acc)
    assert 'teacher/accuracy/top1' in distill

    with pytest.raises(SystemExit):
        extract.main([student_ckpt, str(tmp_path / 'again.pth')])


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tiny_avdigits, tmp_path):
    work = str(tmp_path / 'dist')
    out = run_tool(
        [
            'bash', 'tools/dist_train.sh', UNI_AUDIO, '2', '--work-dir', work,
            '--cfg-options', *options(tiny_avdigits, epochs=1)
        ],
        env=dict(PORT=str(free_port())))
    assert 'Distributed training: True' in out, out[-3000:]
    assert 'GPU number: 2' in out  # MMEngine's name for the world size
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    logs = glob.glob(osp.join(work, '*', '*.log'))
    assert logs
    # 40 train clips, batch 8 per process, 2 processes: 3 iterations
    assert re.search(r'Epoch\(train\)\s+\[1\]\[3/3\]', out)
    out = run_tool(
        [
            'bash', 'tools/dist_test.sh', UNI_AUDIO,
            osp.join(work, 'epoch_1.pth'), '2', '--work-dir',
            str(tmp_path / 'dist_test'), '--cfg-options',
            *options(tiny_avdigits)
        ],
        env=dict(PORT=str(free_port())))
    assert re.search(r'accuracy/top1:\s*\d', out)
