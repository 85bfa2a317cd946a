"""Faults of the disk teacher cache (``teacher_cache=dict(type='disk')``):
its meta file cannot run code, a row is served only when its checksum
holds, damaged files rebuild the folder with a warning, and a process
killed (SIGKILL, injected at a fixed point) while filling or growing the
cache loses nothing on the next run."""
import json
import os
import os.path as osp
import pickle
import re
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from fdkd_plugin.models.algorithms import teacher_cache as tc
from fdkd_plugin.models.algorithms.teacher_cache import _FORMAT, _DiskStore
from fdkd_plugin.models.algorithms.teacher_cache.files import (UnsafeCacheFile,
                                                               encode_spec)

from fdkd_helpers import REPO_ROOT, tiny_cfg_options

# the structure of a cached sample: {'output': leaf0, 'records':
# {'feat': [leaf1]}}, as teacher_cache._flatten builds it
SPEC = ('dict', dict, (('output', ('leaf', 0)),
                       ('records', ('dict', dict,
                                    (('feat', ('seq', list,
                                               (('leaf', 1), ))), )))))
FILL = list(range(10)) + [300, 301]  # 300: past the first capacity (256)


def row(i):
    """The per-sample tensors of sample ``i`` (float32 and bfloat16)."""
    return [torch.full((3, 2), float(i)) + torch.arange(6.).view(3, 2),
            torch.arange(4, dtype=torch.bfloat16) - i]


def digest(i):
    return bytes([i % 251 + 1]) * 16


def fill(root, indices=FILL):
    store = _DiskStore(root)
    if store.spec is None:
        store.set_spec(SPEC, row(0))
    for i in indices:
        store.put(i, digest(i), row(i))
    store.close()


def open_store(root):
    """The store and the warnings its opening gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        store = _DiskStore(root)
    return store, [str(w.message) for w in caught]


def served(store):
    """The indices ``store`` serves; each must hold exactly its row."""
    out = []
    for i in range(store.capacity):
        entry = store.get(i)
        if entry is not None:
            assert entry[0] == digest(i)
            assert all(torch.equal(a, b) for a, b in zip(entry[1], row(i)))
            assert entry[1][1].dtype == torch.bfloat16
            out.append(i)
    return out


class _Payload:
    """Unpickling it calls ``open(path, 'w')``: the file appears."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


# ----------------------------------------------------------------------
@pytest.mark.parametrize('how', ['torch.save', 'raw pickle protocol 2'])
def test_a_crafted_meta_is_refused_without_running_it(tmp_path, how):
    root = str(tmp_path / 'key' / 'rank0')
    fill(root)
    meta = osp.join(root, 'meta.pt')
    marker = str(tmp_path / 'created_by_the_pickle')
    evil = dict(format=_FORMAT, spec=_Payload(marker), shapes=[], dtypes=[])
    if how == 'torch.save':
        torch.save(evil, meta)
    else:
        with open(meta, 'wb') as f:
            pickle.dump(evil, f, protocol=2)
    with pytest.raises(UnsafeCacheFile) as err:
        _DiskStore(root)
    message = str(err.value)
    assert f'refused to load {meta}' in message
    assert re.search(r'it needs the Python GLOBAL (io|builtins)\.open,',
                     message), message
    assert message.endswith(f'Delete the cache folder to rebuild it: '
                            f'rm -r {root}')
    assert not osp.exists(marker)
    assert osp.isfile(meta)  # left for inspection, not rebuilt over
    # the folder's lock was released: after the advised rm, it rebuilds
    for name in os.listdir(root):
        os.remove(osp.join(root, name))
    fill(root)
    store, messages = open_store(root)
    assert served(store) == FILL and messages == []
    store.close()
    # control: the payload is live, an unrestricted unpickling runs it
    pickle.loads(pickle.dumps(evil, protocol=2))
    assert osp.exists(marker)


# ----------------------------------------------------------------------
def _truncate(path, size=None):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2 if size is None else size])


def _garble(path):
    with open(path, 'wb') as f:
        f.write(np.random.default_rng(0).bytes(300))


def _raw_pickle_4(root, tmp_path):
    with open(osp.join(root, 'meta.pt'), 'wb') as f:
        pickle.dump(_Payload(str(tmp_path / 'created_by_the_pickle')), f,
                    protocol=4)


def _meta(root, **fields):
    meta = dict(format=_FORMAT, spec=encode_spec(SPEC), shapes=[[3, 2], [4]],
                dtypes=['float32', 'bfloat16'])
    torch.save(dict(meta, **fields), osp.join(root, 'meta.pt'))


def _resave(root, name, fn):
    path = osp.join(root, name)
    arr = np.load(path)
    os.remove(path)
    np.save(path, fn(arr))


DAMAGE = {
    'truncated meta': (lambda r, t: _truncate(osp.join(r, 'meta.pt')),
                       'meta.pt cannot be read (RuntimeError: '
                       'PytorchStreamReader failed reading zip archive'),
    'empty meta': (lambda r, t: _truncate(osp.join(r, 'meta.pt'), 0),
                   'meta.pt cannot be read (EOFError'),
    'garbled meta': (lambda r, t: _garble(osp.join(r, 'meta.pt')),
                     'meta.pt is not a meta file of plain data '
                     '(Unsupported operand'),
    'raw pickle (protocol 4) with a payload': (
        _raw_pickle_4, 'meta.pt is not a meta file of plain data '
        '(Unsupported operand 149'),
    'meta of another format': (lambda r, t: _meta(r, format=1),
                               f'is not a format-{_FORMAT} teacher cache'),
    'meta without shapes': (
        lambda r, t: torch.save(dict(format=_FORMAT, spec=encode_spec(SPEC)),
                                osp.join(r, 'meta.pt')),
        "misses or garbles a field (KeyError('shapes')"),
    'meta with a bad structure': (lambda r, t: _meta(r, spec=('leaf', 'x')),
                                  "bad record structure node ('leaf', 'x')"),
    'meta naming a callable as a container': (
        lambda r, t: _meta(r, spec=('seq', 'os:system', (('const', 'ls'), ))),
        'container class os:system is not a tuple / list / dict class'),
    'meta with fewer shapes than leaves': (
        lambda r, t: _meta(r, shapes=[[3, 2]], dtypes=['float32']),
        '1 shapes, 1 dtypes, 2 recorded tensors'),
    'missing meta': (lambda r, t: os.remove(osp.join(r, 'meta.pt')),
                     'data files but no meta.pt'),
    'truncated leaf': (lambda r, t: _truncate(osp.join(r, 'leaf1.npy'),
                                              1000),
                       'leaf1.npy cannot be mapped'),
    'missing leaf': (lambda r, t: os.remove(osp.join(r, 'leaf1.npy')),
                     'leaf1.npy is missing'),
    'leaf of another shape': (
        lambda r, t: _resave(r, 'leaf0.npy', lambda a: a.reshape(-1, 2, 3)),
        'leaf0.npy is float32 (512, 2, 3), expected float32 (rows, *(3, 2))'),
    'leaf shorter than the index': (
        lambda r, t: _resave(r, 'leaf0.npy', lambda a: a[:100]),
        'leaf0.npy has 100 rows, fewer than the 512 of index.npy'),
    'truncated index': (lambda r, t: _truncate(osp.join(r, 'index.npy')),
                        'index.npy cannot be mapped'),
    'missing index': (lambda r, t: os.remove(osp.join(r, 'index.npy')),
                      'leaf files but no index.npy'),
}


@pytest.mark.parametrize('case', list(DAMAGE))
def test_a_damaged_file_rebuilds_the_cache_with_one_warning(tmp_path, case):
    damage, reason = DAMAGE[case]
    root = str(tmp_path / 'rank0')
    fill(root)
    damage(root, tmp_path)
    store, messages = open_store(root)
    assert len(messages) == 1, messages
    assert messages[0].startswith(
        f'teacher_cache: the disk cache {root} is damaged ('), messages
    assert reason in messages[0]
    assert messages[0].endswith('; rebuilding it (the teacher recomputes '
                                'its features)')
    assert not osp.exists(tmp_path / 'created_by_the_pickle')
    assert os.listdir(root) == ['lock']
    assert store.spec is None and len(store) == 0 and store.capacity == 0
    store.close()
    fill(root)  # refilled: served bitwise, reopened without a warning
    store, messages = open_store(root)
    assert messages == [] and served(store) == FILL
    store.close()


def test_rows_failing_their_checksum_are_recomputed_with_one_warning(
        tmp_path):
    root = str(tmp_path / 'rank0')
    fill(root)
    leaf0 = np.load(osp.join(root, 'leaf0.npy'), mmap_mode='r+')
    index = np.load(osp.join(root, 'index.npy'), mmap_mode='r+')
    leaf0[2] = 0  # flagged filled, holding zeros
    leaf0[300] = 0
    index[7, 5] ^= 1  # a flipped bit in the input digest
    index[8, 17:] = 0  # the checksum itself lost
    leaf0.flush(), index.flush()
    store, messages = open_store(root)
    assert messages == [
        f'teacher_cache: 4 row(s) of {root} flagged filled failed their '
        'checksum (sample_idx [2, 7, 8, 300]); they are recomputed'
    ]
    assert served(store) == [0, 1, 3, 4, 5, 6, 9, 301]
    for i in (2, 7, 8, 300):  # recomputed and rewritten
        store.put(i, digest(i), row(i))
    # a row of zeros that is the true value is served
    zeros = [torch.zeros(3, 2), torch.zeros(4, dtype=torch.bfloat16)]
    store.put(20, digest(20), zeros)
    assert all(torch.equal(a, b) for a, b in zip(store.get(20)[1], zeros))
    # damage while the store is open is caught when the row is read
    leaf1 = np.load(osp.join(root, 'leaf1.npy'), mmap_mode='r+')
    leaf1[3, 0] += 1
    leaf1[4, 0] += 1
    leaf1.flush()
    with pytest.warns(UserWarning) as caught:
        assert store.get(3) is None and store.get(4) is None
    assert [str(w.message) for w in caught] == [
        f'teacher_cache: row 3 of {root} failed its checksum; recomputing '
        'it (further ones are counted in invalid_rows)'
    ]
    assert store.invalid_rows == 2
    for i in (3, 4):
        store.put(i, digest(i), row(i))
    store.put(20, digest(20), row(20))
    store.close()
    store, messages = open_store(root)
    assert messages == [] and served(store) == sorted(FILL + [20])
    store.close()


# ----------------------------------------------------------------------
# interruptions at fixed points: (what happens on reopening: the rows
# served, the warning)
def _grow_msg(root, files):
    return (f'teacher_cache: the disk cache {root} was interrupted while '
            f'growing; recovered: 10 filled rows kept, {files} unfinished '
            'file(s) removed')


FAULTS = {
    # the 6th row's data and checksum written, its flag not
    'between a row and its flag': (list(range(5)), None),
    # the second grow (for row 300): both leaves renamed, the index not
    'growing, leaves renamed, index not': (list(range(10)), 1),
    # the second grow: leaf0.grow.npy written, leaf1.grow.npy not yet
    'growing, writing the new files': (list(range(10)), 1),
    # meta.pt.tmp written, not yet renamed
    'writing the meta': ([], None),
}


def _patches(fault, crash):
    """``(owner, name, replacement)`` that call ``crash()`` at ``fault``."""
    if fault == 'between a row and its flag':
        set_filled = _DiskStore._set_filled

        def patched(self, idx):
            if idx == 5:
                crash()
            set_filled(self, idx)

        return [(_DiskStore, '_set_filled', patched)]
    if fault == 'growing, writing the new files':
        open_memmap = np.lib.format.open_memmap

        def patched(path, *args, **kwargs):
            if path.endswith('leaf1.grow.npy') and osp.isfile(
                    osp.join(osp.dirname(path), 'index.npy')):
                crash()
            return open_memmap(path, *args, **kwargs)

        return [(np.lib.format, 'open_memmap', patched)]
    replace = os.replace
    last = 'index.npy' if fault.startswith('growing') else 'meta.pt'

    def patched(src, dst):
        if osp.basename(dst) == last and (last == 'meta.pt'
                                          or osp.isfile(dst)):
            crash()
        replace(src, dst)

    return [(os, 'replace', patched)]  # the os module the store uses


def fill_and_die(root, fault):
    """Fill ``FILL`` into ``root``, SIGKILLed at ``fault`` (subprocess)."""
    for owner, name, new in _patches(
            fault, lambda: os.kill(os.getpid(), signal.SIGKILL)):
        setattr(owner, name, new)
    fill(root)
    raise AssertionError(f'{fault!r} was never reached')


class _Crash(Exception):
    pass


def _crash():
    raise _Crash


def _check_recovery(root, fault):
    rows, grow_files = FAULTS[fault]
    store, messages = open_store(root)
    assert served(store) == rows
    assert messages == ([] if grow_files is None else
                        [_grow_msg(root, grow_files)])
    assert not [f for f in os.listdir(root) if f.endswith(('.grow.npy',
                                                           '.tmp'))]
    store.close()
    fill(root)  # the rerun fills the rest; nothing is recomputed twice
    store, messages = open_store(root)
    assert messages == [] and served(store) == FILL
    store.close()


@pytest.mark.parametrize('fault', list(FAULTS))
def test_an_interrupted_fill_or_grow_loses_nothing(tmp_path, monkeypatch,
                                                   fault):
    """The file state of an interruption, made in this process: the fault
    point raises, and the abandoned store's lock is dropped."""
    root = str(tmp_path / 'rank0')
    for owner, name, new in _patches(fault, _crash):
        monkeypatch.setattr(owner, name, new)
    store = _DiskStore(root)
    with pytest.raises(_Crash):
        store.set_spec(SPEC, row(0))
        for i in FILL:
            store.put(i, digest(i), row(i))
    store._lock_file.close()  # as the kernel does for a killed process
    monkeypatch.undo()
    _check_recovery(root, fault)


@pytest.mark.slow
@pytest.mark.parametrize('fault', list(FAULTS))
def test_sigkill_while_filling_or_growing_loses_nothing(tmp_path, fault):
    root = str(tmp_path / 'rank0')
    here = osp.dirname(osp.abspath(__file__))
    script = (f'import sys; sys.path[:0] = [{here!r}, {osp.dirname(here)!r}]'
              '\nimport test_teacher_cache_faults as t'
              f'\nt.fill_and_die({root!r}, {fault!r})')
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    _check_recovery(root, fault)


# ----------------------------------------------------------------------
KILL_AT_ROW = 12  # the 12th row flagged: in the 2nd batch of epoch 1
TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')


def _train(cfg_file, work_dir, data_root, *extra, kill_at=None):
    """tools/train.py, 2 epochs of 2 batches; with ``kill_at`` SIGKILLed
    between writing the ``kill_at``-th cache row and flagging it."""
    opts = dict(tiny_cfg_options(data_root), **{
        'train_dataloader.dataset.indices': 16,
        'train_cfg.max_epochs': 2,
        'param_scheduler.0.end': 2,
        'default_hooks.logger.interval': 1,
        'log_processor.window_size': 1,  # each iteration's own losses
    })
    argv = [TRAIN, cfg_file, '--work-dir', work_dir, *extra,
            '--cfg-options', *[f'{k}={v}' for k, v in opts.items()]]
    script = f'import runpy, sys; sys.argv = {argv!r}\n'
    if kill_at is not None:
        script += (
            'import os, signal\n'
            'from fdkd_plugin.models.algorithms.teacher_cache import '
            '_DiskStore as S\n'
            'flag, rows = S._set_filled, []\n'
            'def patched(self, idx):\n'
            '    rows.append(idx)\n'
            f'    if len(rows) == {kill_at}:\n'
            '        os.kill(os.getpid(), signal.SIGKILL)\n'
            '    flag(self, idx)\n'
            'S._set_filled = patched\n')
    script += f"runpy.run_path({TRAIN!r}, run_name='__main__')\n"
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    expected = 0 if kill_at is None else -signal.SIGKILL
    assert proc.returncode == expected, proc.stderr[-4000:]
    scalars = [json.loads(line)
               for line in open(_scalars_file(work_dir))
               if '"loss"' in line]
    return scalars


def _scalars_file(work_dir):
    runs = sorted(d for d in os.listdir(work_dir)
                  if re.fullmatch(r'\d{8}_\d{6}', d))
    return osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')


@pytest.mark.slow
def test_sigkill_during_the_first_fill_then_resume_equals_uncached(
        tiny_avdigits, tmp_path):
    """A real run killed mid-fill, rerun with --resume: it finishes, the
    killed run's complete rows are served, and its losses are an uncached
    run's."""
    cache_dir = str(tmp_path / 'cache')
    base = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                               'visual-from-audio.py')
    plain_cfg, cached_cfg = (str(tmp_path / f'{n}.py')
                             for n in ('plain', 'cached'))
    with open(plain_cfg, 'w') as f:
        f.write(f'_base_ = [{base!r}]\nmodel = dict(teacher_ckpt=None)\n')
    with open(cached_cfg, 'w') as f:
        f.write(f'_base_ = [{base!r}]\nmodel = dict(teacher_ckpt=None, '
                f"teacher_cache=dict(type='disk', dir={cache_dir!r}, "
                'pipeline=_base_.train_pipeline))\n')
    plain = _train(plain_cfg, str(tmp_path / 'plain'), tiny_avdigits)
    work = str(tmp_path / 'cached')
    _train(cached_cfg, work, tiny_avdigits, kill_at=KILL_AT_ROW)
    (key, ) = os.listdir(cache_dir)
    store = _DiskStore(osp.join(cache_dir, key, 'rank0'))
    assert len(store) == KILL_AT_ROW - 1  # complete rows; the 12th not
    store.close()
    assert not glob_ckpts(work)  # killed in epoch 1: nothing to resume

    resumed = _train(cached_cfg, work, tiny_avdigits, '--resume')
    hit_rates = [s['teacher_cache.hit_rate'] for s in resumed]
    # batch 1: the 8 rows of the killed run; batch 2: its 3 complete ones
    assert hit_rates == [1.0, 3 / 8, 1.0, 1.0]
    store = _DiskStore(osp.join(cache_dir, key, 'rank0'))
    assert len(store) == 16
    store.close()
    assert len(plain) == len(resumed) == 4
    losses = [k for k in plain[0] if 'loss' in k]
    assert 'distill.loss_low' in losses
    for k in losses:
        assert [s[k] for s in resumed] == pytest.approx(
            [s[k] for s in plain], rel=1e-4), k
    # the first batch is all hits, computed on the same batch: bitwise
    assert {k: resumed[0][k] for k in losses} == {
        k: plain[0][k] for k in losses}


def glob_ckpts(work_dir):
    return [f for f in os.listdir(work_dir) if f.endswith('.pth')]
