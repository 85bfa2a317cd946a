"""Resumable "train, then test the selected checkpoint" runs, for the demo
and the benchmarks (each run a ``tools/train.py`` + ``tools/test.py``
process, exactly what a user would type)."""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

__all__ = [
    'REPO_ROOT', 'IDENTITY_FILE', 'IDENTITY_KEYS', 'data_options',
    'write_identity', 'read_identity', 'train_and_test', 'markdown_table'
]

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _run(cmd: List[str], log: Optional[str],
         threads: Optional[int] = None) -> None:
    print('+', ' '.join(cmd), flush=True)
    # the tools import this checkout's package, not another clone's
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    if threads:
        # runs side by side share the cores instead of each taking all
        env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(threads)
    if log is None:
        subprocess.run(cmd, check=True, cwd=REPO_ROOT, env=env)
        return
    with open(log, 'a') as f:
        proc = subprocess.run(
            cmd, cwd=REPO_ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        with open(log) as f:
            tail = f.read()[-4000:]
        raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}); '
                           f'log {log}:\n{tail}')


#: what a run is, written by the runner that chose it (tools/run_table.py)
#: and read by the results collector instead of re-identifying the run from
#: its dumped config
IDENTITY_FILE = 'experiment.json'
IDENTITY_KEYS = ('method', 'control', 'dataset', 'student', 'teacher',
                 'seed', 'config')


def write_identity(work_dir: str, **identity) -> str:
    """Write ``work_dir/experiment.json``: ``method`` (``'uni'`` for a
    unimodal model), ``control`` (None or a control name), ``dataset``,
    ``student`` / ``teacher`` modalities (teacher None for ``'uni'``),
    ``seed`` and ``config``; atomically. Returns the file's path."""
    unknown = set(identity) - set(IDENTITY_KEYS)
    missing = set(IDENTITY_KEYS) - set(identity)
    if unknown or missing:
        raise ValueError(f'identity keys: unknown {sorted(unknown)}, '
                         f'missing {sorted(missing)}')
    abs_dir = osp.join(REPO_ROOT, work_dir)
    os.makedirs(abs_dir, exist_ok=True)
    path = osp.join(abs_dir, IDENTITY_FILE)
    with open(path + '.tmp', 'w') as f:
        json.dump(identity, f, indent=2)
    os.replace(path + '.tmp', path)
    return path


def read_identity(run_dir: str) -> Optional[dict]:
    """``experiment.json`` of a run folder, or None when there is none (a
    run made by hand) or it is unreadable or incomplete."""
    path = osp.join(run_dir, IDENTITY_FILE)
    try:
        with open(path) as f:
            identity = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(identity, dict) or set(identity) != set(IDENTITY_KEYS):
        return None
    return identity


def data_options(data_root: str,
                 epochs: Optional[int] = None) -> List[str]:
    """``--cfg-options`` that point every loader at ``data_root`` and, if
    given, shorten the schedule (``max_epochs`` and the poly decay's end)."""
    opts = [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ]
    if epochs:
        opts += [
            f'train_cfg.max_epochs={epochs}', f'param_scheduler.0.end={epochs}'
        ]
    return opts


def train_and_test(config: str,
                   work_dir: str,
                   cfg_options: Sequence[str] = (),
                   fresh: bool = False,
                   quiet: bool = False,
                   threads: Optional[int] = None) -> Dict[str, float]:
    """Train ``config`` into ``work_dir``, test ``selected.pth``, return the
    test metrics (plus ``minutes``).

    A finished run (``done.json`` in ``work_dir``) is reused unless
    ``fresh``; an interrupted one resumes from its last checkpoint.

    Args:
        config (str): Config path, relative to the repository.
        work_dir (str): Work dir, relative to the repository or absolute.
        cfg_options (Sequence[str]): ``key=value`` overrides for both tools.
        fresh (bool): Retrain even if done.
        quiet (bool): Send the tools' output to ``work_dir/run.log``.
        threads (int, optional): CPU threads of each tool process
            (``OMP_NUM_THREADS``); default: the environment's.
    """
    abs_dir = osp.join(REPO_ROOT, work_dir)
    done = osp.join(abs_dir, 'done.json')
    if osp.isfile(done) and not fresh:
        with open(done) as f:
            return json.load(f)
    os.makedirs(abs_dir, exist_ok=True)
    log = osp.join(abs_dir, 'run.log') if quiet else None
    start = time.time()
    train = [sys.executable, 'tools/train.py', config, '--work-dir', work_dir]
    if osp.isfile(osp.join(abs_dir, 'last_checkpoint')) and not fresh:
        train.append('--resume')
    opts = ['--cfg-options', *cfg_options] if cfg_options else []
    _run(train + opts, log, threads)
    metrics_file = osp.join(work_dir, 'test_metrics.json')
    _run([
        sys.executable, 'tools/test.py', config,
        osp.join(work_dir, 'selected.pth'), '--work-dir', work_dir, '--out',
        metrics_file, *opts
    ], log, threads)
    with open(osp.join(REPO_ROOT, metrics_file)) as f:
        metrics = {k: float(v) for k, v in json.load(f).items()}
    metrics['minutes'] = (time.time() - start) / 60
    tmp = done + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(metrics, f, indent=2)
    os.replace(tmp, done)
    return metrics


def markdown_table(rows: List[Sequence[str]]) -> str:
    """A Markdown table; the first row is the header."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]

    def line(row):
        return '| ' + ' | '.join(
            str(c).ljust(w) for c, w in zip(row, widths)) + ' |'

    out = [line(rows[0]), '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    out += [line(r) for r in rows[1:]]
    return '\n'.join(out)
