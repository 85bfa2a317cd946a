"""Faults during training: a non-finite loss, kill -9 during an epoch and
during a checkpoint save, a truncated last checkpoint on ``--resume``.

The slow tests train tiny AV-digits for 3 epochs with ``tools/train.py`` in
subprocesses and compare against one uninterrupted run: on CPU with
deterministic settings the resumed run ends with bitwise equal weights and
equal metrics. Kills are made deterministic by a small driver
(:data:`DRIVER`) that SIGKILLs its own process at a given iteration, or in
the middle of writing a given checkpoint file.
"""
import glob
import json
import logging
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from fdkd_helpers import REPO_ROOT, tiny_cfg_options
from fdkd_plugin.engine import checkpoint_io
from fdkd_plugin.engine.checkpoint_io import (atomic_write_bytes,
                                              check_checkpoint, partial_files)
from fdkd_plugin.engine.non_finite_loss_hook import (NonFiniteLossError,
                                                     NonFiniteLossHook,
                                                     loss_weight_keys)
from fdkd_plugin.engine.resume import ResumeError, resolve_resume

UNI_AUDIO = 'configs/unimodal/r18-w32_1xb32-12e_avdigits-audio.py'
EPOCHS = 3
ITERS_PER_EPOCH = 5  # 40 training clips, batch 8

#: runs tools/train.py; FDKD_TEST_KILL_AT_ITER=N SIGKILLs the process before
#: training iteration N (0-based), FDKD_TEST_KILL_IN_SAVE=name SIGKILLs it
#: after half of the bytes of the first save of that checkpoint are written
DRIVER = textwrap.dedent("""
    import os, runpy, signal, sys
    import fdkd_plugin
    from fdkd_plugin.engine import checkpoint_io

    kill_iter = os.environ.get('FDKD_TEST_KILL_AT_ITER')
    kill_save = os.environ.get('FDKD_TEST_KILL_IN_SAVE')

    if kill_iter is not None:
        from mmengine.runner import EpochBasedTrainLoop
        run_iter = EpochBasedTrainLoop.run_iter

        def killing_run_iter(self, idx, data_batch):
            if self._iter == int(kill_iter):
                os.kill(os.getpid(), signal.SIGKILL)
            run_iter(self, idx, data_batch)

        EpochBasedTrainLoop.run_iter = killing_run_iter

    if kill_save is not None:
        real_os = checkpoint_io.os

        class HalfThenKill:
            def __init__(self, f):
                self.f = f
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return self.f.__exit__(*exc)
            def write(self, data):
                self.f.write(data[:len(data) // 2])
                self.f.flush()
                real_os.fsync(self.f.fileno())
                real_os.kill(real_os.getpid(), signal.SIGKILL)

        class OsProxy:
            def __getattr__(self, name):
                return getattr(real_os, name)
            def fdopen(self, fd, *args):
                f = real_os.fdopen(fd, *args)
                target = real_os.readlink(f'/proc/self/fd/{fd}')
                return HalfThenKill(f) if ('.' + kill_save + '.') in target \\
                    else f

        checkpoint_io.os = OsProxy()

    sys.argv = ['tools/train.py'] + sys.argv[1:]
    runpy.run_path('tools/train.py', run_name='__main__')
""")


def options(data_root, **extra):
    opts = tiny_cfg_options(data_root)
    opts.update({
        'train_cfg.max_epochs': EPOCHS,
        'param_scheduler.0.end': EPOCHS,
        'default_hooks.logger.interval': 1,
        'randomness.seed': 0,
        'randomness.deterministic': True,
    })
    opts.update(extra)
    return [f'{k}={v}' for k, v in opts.items()]


def train(work_dir, data_root, *flags, env=None, driver=False, **extra):
    """tools/train.py (or the killing driver) on tiny AV-digits."""
    entry = ['-c', DRIVER] if driver else ['tools/train.py']
    proc = subprocess.run([
        sys.executable, *entry, UNI_AUDIO, '--work-dir', work_dir, *flags,
        '--cfg-options', *options(data_root, **extra)
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=600,
                          env=dict(
                              os.environ, OMP_NUM_THREADS='1', **(env or {})))
    return proc.returncode, proc.stdout + proc.stderr


def weights(path):
    return torch.load(
        path, map_location='cpu', weights_only=False)['state_dict']


def max_abs_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() if a[k].
               is_floating_point() else float(not torch.equal(a[k], b[k]))
               for k in a)


def logged(work_dir):
    """{step: value} of the validation accuracy and of the training loss,
    from every run in the work dir (a resumed run's rows replace the killed
    run's)."""
    acc, loss = {}, {}
    runs = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data',
                           'scalars.json')))  # timestamp order
    for path in runs:
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'accuracy/top1' in row:
                    acc[row['step']] = row['accuracy/top1']
                elif 'loss' in row:
                    loss[row['step']] = row['loss']
    return acc, loss


@pytest.fixture(scope='module')
def reference(tiny_avdigits, tmp_path_factory):
    """One uninterrupted 3-epoch run: (epoch_3 weights, metrics)."""
    work = str(tmp_path_factory.mktemp('reference'))
    code, out = train(work, tiny_avdigits)
    assert code == 0, out[-5000:]
    return weights(osp.join(work, f'epoch_{EPOCHS}.pth')), logged(work)


def assert_same_as_reference(work, reference, note):
    """Bitwise equal final weights, equal validation accuracy every epoch
    and equal training loss every iteration."""
    ref_weights, (ref_acc, ref_loss) = reference
    got = weights(osp.join(work, f'epoch_{EPOCHS}.pth'))
    diff = max_abs_diff(got, ref_weights)
    acc, loss = logged(work)
    print(f'{note}: max |w - w_ref| = {diff}; accuracy {acc} (reference '
          f'{ref_acc}); max |loss - loss_ref| = '
          f'{max(abs(loss[k] - ref_loss[k]) for k in ref_loss)}')
    assert diff == 0.0
    assert all(torch.equal(got[k], ref_weights[k]) for k in got)
    assert acc == ref_acc and len(acc) == EPOCHS
    assert loss == ref_loss and len(loss) == EPOCHS * ITERS_PER_EPOCH


# ---------------------------------------------------------------------------
# 4. non-finite losses
@pytest.mark.slow
def test_lr_1e30_stops_at_the_first_nan_without_saving_it(
        tiny_avdigits, tmp_path):
    # lr 1e30: the first step scales the weights to ~1e29, so the logits of
    # the second batch overflow float32 on any CPU. (At lr 1e3 without
    # weight decay the loss stays finite through epoch 1 while BatchNorm's
    # running_var overflows: the save check stops that run instead, which
    # test_hook_refuses_to_save_non_finite_weights covers.)
    work = str(tmp_path / 'nan')
    code, out = train(work, tiny_avdigits,
                      **{'optim_wrapper.optimizer.lr': 1e30})
    assert code != 0, out[-3000:]
    assert 'NonFiniteLossError: non-finite loss at iteration ' in out, \
        out[-3000:]
    message = out[out.index('NonFiniteLossError: non-finite'):]
    assert re.search(r'loss = (nan|inf|-inf)', message), message
    for fragment in ('optim_wrapper.optimizer.lr = 1e+30',
                     'optim_wrapper.clip_grad = None',
                     'model.head.loss.loss_weight = 1;', '--amp: off'):
        assert fragment in message, message
    # the iteration it names is the first with a non-finite loss logged
    it = int(message.split('iteration ')[1].split(' ')[0])
    epoch = int(message.split('(epoch ')[1].split(',')[0])
    assert epoch == (it - 1) // ITERS_PER_EPOCH + 1
    # no checkpoint of that epoch or later; every saved one is finite
    saved = glob.glob(osp.join(work, '*.pth'))
    for path in saved:
        state = weights(path)
        assert all(
            torch.isfinite(v).all() for v in state.values()
            if v.is_floating_point()), path
    assert not any(f'epoch_{e}.pth' in p for p in saved
                   for e in range(epoch, EPOCHS + 1))
    selected = osp.join(work, 'selected.pth')
    if epoch > 1:
        assert osp.isfile(selected)
        assert os.readlink(selected).endswith(f'epoch_{epoch - 1}.pth')
    else:
        assert not osp.lexists(selected)


# ---------------------------------------------------------------------------
# 5. kill -9, then --resume
@pytest.mark.slow
def test_kill_during_an_epoch_then_resume_equals_uninterrupted(
        tiny_avdigits, tmp_path, reference):
    work = str(tmp_path / 'killed')
    kill_at = ITERS_PER_EPOCH + 2  # epoch 2, third batch
    code, out = train(
        work,
        tiny_avdigits,
        driver=True,
        env=dict(FDKD_TEST_KILL_AT_ITER=str(kill_at)))
    assert code == -signal.SIGKILL, out[-3000:]
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    code, out = train(work, tiny_avdigits, '--resume')
    assert code == 0, out[-5000:]
    assert 'resumed epoch: 1, iter: 5' in out, out[-3000:]
    assert_same_as_reference(work, reference, 'kill in epoch 2')


@pytest.mark.slow
def test_kill_during_a_save_then_truncated_last_falls_back(
        tiny_avdigits, tmp_path, reference):
    work = str(tmp_path / 'killed_in_save')
    keep = {'default_hooks.checkpoint.max_keep_ckpts': EPOCHS}
    code, out = train(
        work,
        tiny_avdigits,
        driver=True,
        env=dict(FDKD_TEST_KILL_IN_SAVE=f'epoch_{EPOCHS}.pth'),
        **keep)
    assert code == -signal.SIGKILL, out[-3000:]
    # the half-written bytes never reached the final name
    assert not osp.exists(osp.join(work, f'epoch_{EPOCHS}.pth'))
    partial = partial_files(work)
    assert len(partial) == 1 and f'.epoch_{EPOCHS}.pth.' in partial[0]
    assert 'truncated' in check_checkpoint(partial[0])
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().endswith('epoch_2.pth')
    # what a non-atomic writer leaves: the last checkpoint cut short
    last = osp.join(work, 'epoch_2.pth')
    with open(last, 'r+b') as f:
        f.truncate(osp.getsize(last) // 2)

    code, out = train(work, tiny_avdigits, '--resume', **keep)
    assert code == 0, out[-5000:]
    previous = osp.join(work, 'epoch_1.pth')
    assert (f'--resume: the last checkpoint {last} (truncated or not a '
            'complete zip archive') in out, out[-3000:]
    assert f'resuming from the previous checkpoint {previous} instead' in out
    assert 'resumed epoch: 1, iter: 5' in out
    assert partial_files(work) == []
    assert check_checkpoint(last) is None  # epoch 2 saved again, whole
    assert_same_as_reference(work, reference, 'kill in save + truncated')


# ---------------------------------------------------------------------------
# the pieces, without training
@pytest.mark.slow
def test_atomic_write_killed_midway_leaves_only_a_hidden_partial(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    old = b'old complete file'
    atomic_write_bytes(old, path)
    assert path.read_bytes() == old and partial_files(str(tmp_path)) == []
    script = DRIVER.split('\nsys.argv')[0]  # the save-killing proxy only
    code = subprocess.run([
        sys.executable, '-c', script + textwrap.dedent(f"""
            from fdkd_plugin.engine.checkpoint_io import atomic_write_bytes
            atomic_write_bytes(b'x' * 1000000, {str(path)!r})
        """)
    ],
                          cwd=REPO_ROOT,
                          env=dict(
                              os.environ,
                              FDKD_TEST_KILL_IN_SAVE='epoch_1.pth'),
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert code.returncode == -signal.SIGKILL, code.stderr[-3000:]
    assert path.read_bytes() == old  # the final name never held a part
    partial = partial_files(str(tmp_path))
    assert len(partial) == 1 and osp.getsize(partial[0]) == 500000
    assert osp.basename(partial[0]).startswith('.epoch_1.pth.')


def test_atomic_write_error_keeps_the_old_file_and_no_partial(
        tmp_path, monkeypatch):
    path = tmp_path / 'ckpt.pth'
    atomic_write_bytes(b'old', path)

    def disk_full(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(checkpoint_io.os, 'fsync', disk_full)
    with pytest.raises(OSError, match='No space left'):
        atomic_write_bytes(b'new', path)
    monkeypatch.undo()
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['ckpt.pth']
    atomic_write_bytes(b'new', path)
    assert path.read_bytes() == b'new'
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's


def test_mmengine_save_checkpoint_through_the_atomic_backend(tmp_path):
    from mmengine.runner import save_checkpoint
    path = str(tmp_path / 'sub' / 'epoch_1.pth')
    save_checkpoint({'state_dict': {
        'w': torch.arange(4.)
    }},
                    path,
                    backend_args=dict(backend=checkpoint_io.ATOMIC_BACKEND))
    assert check_checkpoint(path) is None
    assert torch.equal(
        torch.load(path, weights_only=True)['state_dict']['w'],
        torch.arange(4.))
    assert partial_files(str(tmp_path / 'sub')) == []
    cfg = Config.fromfile(osp.join(REPO_ROOT, UNI_AUDIO))
    assert cfg.default_hooks.checkpoint.backend_args == dict(
        backend='fdkd.AtomicLocalBackend')
    assert dict(type='fdkd.NonFiniteLossHook') in cfg.custom_hooks


def _ckpt(path, epoch):
    torch.save({'meta': {'epoch': epoch}, 'state_dict': {}}, str(path))


def _truncate(path):
    with open(path, 'r+b') as f:
        f.truncate(osp.getsize(path) - 10)


def test_check_checkpoint_reasons(tmp_path):
    good = tmp_path / 'good.pth'
    _ckpt(good, 1)
    assert check_checkpoint(good) is None
    assert check_checkpoint(tmp_path / 'missing.pth') == 'no such file'
    (tmp_path / 'empty.pth').write_bytes(b'')
    assert check_checkpoint(tmp_path / 'empty.pth') == 'empty file (0 bytes)'
    _truncate(good)
    assert check_checkpoint(good).startswith(
        'truncated or not a complete zip archive')
    # a flipped byte inside a member: the CRC catches it
    flipped = tmp_path / 'flipped.pth'
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, str(flipped))
    data = bytearray(flipped.read_bytes())
    i = data.index(b'\x00' * 400) + 200
    data[i] = 1
    flipped.write_bytes(bytes(data))
    assert 'fails its CRC check' in check_checkpoint(flipped)


def _resume_cfg(work_dir, load_from=None):
    return Config(dict(resume=True, load_from=load_from, work_dir=work_dir))


@pytest.fixture
def warnings_log():
    """Messages print_log(logger='current') sends, as a list."""
    records = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_resume_falls_back_past_every_unusable_checkpoint(
        tmp_path, warnings_log):
    work = str(tmp_path)
    for e in (1, 2, 3):
        _ckpt(tmp_path / f'epoch_{e}.pth', e)
    _truncate(tmp_path / 'epoch_3.pth')
    (tmp_path / 'epoch_2.pth').write_bytes(b'')
    (tmp_path / '.epoch_4.pth.123-abcd.partial').write_bytes(b'PK')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    cfg = resolve_resume(_resume_cfg(work))
    assert cfg.load_from == str(tmp_path / 'epoch_1.pth')
    warned = [m for m in warnings_log if m.startswith('--resume:')]
    assert len(warned) == 1
    assert (f'the last checkpoint {tmp_path}/epoch_3.pth (truncated'
            in warned[0])
    assert f'previous checkpoint {tmp_path}/epoch_1.pth instead' in warned[0]
    assert f'{tmp_path}/epoch_2.pth: empty file (0 bytes)' in warned[0]
    assert partial_files(work) == []


def test_resume_with_a_usable_last_checkpoint_changes_nothing(tmp_path):
    _ckpt(tmp_path / 'epoch_1.pth', 1)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    assert resolve_resume(_resume_cfg(str(tmp_path))).load_from is None
    # nothing saved yet: MMEngine starts from scratch as before
    empty = tmp_path / 'fresh'
    empty.mkdir()
    assert resolve_resume(_resume_cfg(str(empty))).load_from is None


def test_resume_with_an_empty_last_checkpoint_file_uses_the_newest(
        tmp_path, warnings_log):
    _ckpt(tmp_path / 'epoch_1.pth', 1)
    _ckpt(tmp_path / 'epoch_2.pth', 2)
    (tmp_path / 'last_checkpoint').write_text('')
    cfg = resolve_resume(_resume_cfg(str(tmp_path)))
    assert cfg.load_from == str(tmp_path / 'epoch_2.pth')
    assert any('last_checkpoint is empty' in m for m in warnings_log)


def test_resume_without_any_usable_checkpoint_is_an_error(tmp_path):
    _ckpt(tmp_path / 'epoch_1.pth', 1)
    _truncate(tmp_path / 'epoch_1.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    with pytest.raises(
            ResumeError,
            match=r'no usable checkpoint in .*'
            r'epoch_1\.pth: truncated.*drop --resume'):
        resolve_resume(_resume_cfg(str(tmp_path)))


def test_resume_from_an_explicit_truncated_file_names_the_usable_ones(
        tmp_path):
    _ckpt(tmp_path / 'epoch_1.pth', 1)
    _ckpt(tmp_path / 'epoch_2.pth', 2)
    _truncate(tmp_path / 'epoch_2.pth')
    bad = str(tmp_path / 'epoch_2.pth')
    with pytest.raises(
            ResumeError,
            match=(rf'--resume {bad}: cannot resume from this file \(truncated'
                   rf'.*complete checkpoints there: {tmp_path}/epoch_1\.pth')):
        resolve_resume(_resume_cfg(str(tmp_path), load_from=bad))


# ---------------------------------------------------------------------------
# NonFiniteLossHook without a runner
def test_loss_weight_keys_name_the_weight_of_each_term():
    fdkd = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                            'audio-from-visual.py'))
    assert loss_weight_keys('distill.loss_low',
                            fdkd) == ['model.distiller.lambda_low']
    assert loss_weight_keys('distill.loss_align_high_teacher',
                            fdkd) == ['model.distiller.align_weight']
    assert loss_weight_keys(
        'student.loss', fdkd) == ['model.architecture.head.loss.loss_weight']
    logit = Config.fromfile(
        osp.join(REPO_ROOT,
                 'configs/baselines/logit/logit_r18-w32_1xb32-12e_avdigits-'
                 'audio-from-visual.py'))
    assert loss_weight_keys('distill.loss_kl', logit) == [
        'model.distiller.distill_losses.loss_kl.loss_weight'
    ]
    assert loss_weight_keys('loss', Config(
        dict(model=dict()))) == ['model.head.loss.loss_weight']


class _Logger:

    def __init__(self):
        self.records = []

    def __getattr__(self, level):
        return lambda msg: self.records.append((level, msg))


def _fake_runner(**cfg):
    base = dict(
        model=dict(
            type='fdkd.CrossModalDistill',
            distiller=dict(type='fdkd.FreqDecoupledDistiller',
                           lambda_low=2.0)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)))
    base.update(cfg)
    return SimpleNamespace(
        cfg=Config(base),
        iter=11,
        epoch=2,
        train_dataloader=[0] * 5,
        logger=_Logger(),
        optim_wrapper=SimpleNamespace(get_lr=lambda: {'lr': [0.25]}),
        model=torch.nn.Linear(2, 2))


def _outputs(low):
    return {
        'loss': torch.tensor(low + 1.0),
        'student.loss': torch.tensor(1.0),
        'distill.loss_low': torch.tensor(low),
        'teacher_cache.hit_rate': torch.tensor(float('nan')),  # not a loss
    }


def test_hook_raises_naming_iteration_term_and_keys():
    runner = _fake_runner(
        optim_wrapper=dict(
            type='AmpOptimWrapper',
            optimizer=dict(type='SGD', lr=0.5),
            clip_grad=dict(max_norm=10)))
    hook = NonFiniteLossHook()
    hook.after_train_iter(runner, 1, outputs=_outputs(0.5))  # finite: quiet
    assert runner.logger.records == []
    with pytest.raises(NonFiniteLossError) as info:
        hook.after_train_iter(runner, 1, outputs=_outputs(float('inf')))
    message = str(info.value)
    assert message.startswith(
        'non-finite loss at iteration 12 (epoch 3, batch 2 of 5): '
        'distill.loss_low = inf (all terms: loss=inf, student.loss=1, '
        'distill.loss_low=inf)')
    for fragment in ("optim_wrapper.optimizer.lr = 0.5, now {'lr': [0.25]}",
                     "optim_wrapper.clip_grad = {'max_norm': 10}",
                     'model.distiller.lambda_low = 2', '--amp: on'):
        assert fragment in message
    assert runner.logger.records == [('error', message)]


def test_hook_warn_mode_warns_once_counts_and_carries_on():
    runner = _fake_runner()
    hook = NonFiniteLossHook(action='warn')
    for _ in range(3):
        hook.after_train_iter(runner, 0, outputs=_outputs(float('nan')))
    hook.after_train_iter(runner, 0, outputs=_outputs(1.0))
    hook.after_train(runner)
    levels = [level for level, _ in runner.logger.records]
    assert levels == ['warning', 'info']
    assert 'distill.loss_low = nan' in runner.logger.records[0][1]
    assert 'training goes on' in runner.logger.records[0][1]
    assert runner.logger.records[1][1].startswith(
        'NonFiniteLossHook: 3 training iteration(s) had a non-finite loss')
    with pytest.raises(ValueError, match=r"action='stop' must be one of"):
        NonFiniteLossHook(action='stop')


def test_hook_refuses_to_save_non_finite_weights():
    runner = _fake_runner()
    hook = NonFiniteLossHook()
    checkpoint = {'meta': {'epoch': 3, 'iter': 15}}
    hook.before_save_checkpoint(runner, checkpoint)  # finite: saved
    with torch.no_grad():
        runner.model.bias[1] = float('nan')
    with pytest.raises(
            NonFiniteLossError,
            match=r'weights to be saved at epoch 3, iteration 15 '
            r'are not finite \(first: bias\)'):
        hook.before_save_checkpoint(runner, checkpoint)
    NonFiniteLossHook(action='warn').before_save_checkpoint(runner, checkpoint)
