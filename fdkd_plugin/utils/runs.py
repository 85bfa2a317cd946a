"""Resumable "train, then test the selected checkpoint" runs, for the demo
and the benchmarks (each run a ``tools/train.py`` + ``tools/test.py``
process, exactly what a user would type)."""
import argparse
import functools
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = [
    'REPO_ROOT', 'IDENTITY_FILE', 'IDENTITY_KEYS', 'data_options',
    'write_identity', 'read_identity', 'FINGERPRINT_FILE',
    'RESULT_KEYS', 'resolved_config', 'config_changes', 'stale_reason',
    'code_version',
    'read_code_version', 'train_and_test', 'markdown_table'
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


#: the resolved config a run was made with (its sha256 and the config
#: itself), written before training: a finished or interrupted run whose
#: config has changed since is not reused (``train_and_test``)
FINGERPRINT_FILE = 'config_fingerprint.json'


def _plain(value):
    """JSON for a resolved config value: a class or function by its
    qualified name (its repr would hold a memory address)."""
    name = getattr(value, '__qualname__', type(value).__name__)
    return f'{getattr(value, "__module__", "?")}.{name}'


#: the config keys that decide a run's numbers: what MMEngine's
#: ``Runner.from_cfg`` reads, but for where and how it logs (``work_dir``,
#: ``experiment_name``, ``launcher``, ``log_level``, ``log_processor``,
#: ``visualizer``, and the logger and timer hooks); a config's own helper
#: variables (``_stages``, ``afd_distiller``, ...) are left out, so a
#: refactor that leaves these keys as they are keeps its runs
RESULT_KEYS = ('model', 'data_preprocessor', 'train_dataloader',
               'val_dataloader', 'test_dataloader', 'train_cfg', 'val_cfg',
               'test_cfg', 'optim_wrapper', 'param_scheduler',
               'auto_scale_lr', 'val_evaluator', 'test_evaluator',
               'default_hooks', 'custom_hooks', 'randomness', 'env_cfg',
               'load_from', 'resume', 'default_scope', 'custom_imports')
_LOG_HOOKS = ('logger', 'timer')


@functools.lru_cache(maxsize=256)
def _resolved(config: str, cfg_options: Tuple[str, ...]) -> str:
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, config), import_custom_modules=False)
    if cfg_options:
        # parsed exactly as tools/train.py parses --cfg-options
        parser = argparse.ArgumentParser()
        parser.add_argument('--cfg-options', nargs='+', action=DictAction)
        cfg.merge_from_dict(
            parser.parse_args(['--cfg-options', *cfg_options]).cfg_options)
    kept = {k: v for k, v in cfg.to_dict().items() if k in RESULT_KEYS}
    if isinstance(kept.get('default_hooks'), dict):
        kept['default_hooks'] = {
            k: v
            for k, v in kept['default_hooks'].items() if k not in _LOG_HOOKS
        }
    return json.dumps(kept, sort_keys=True, default=_plain)


def resolved_config(config: str, cfg_options: Sequence[str] = ()) -> dict:
    """``config`` as a run trains it, its bases merged and
    ``cfg_options`` applied (as ``tools/train.py`` does), as plain JSON
    data: the keys that decide its numbers (:data:`RESULT_KEYS`)."""
    return json.loads(_resolved(config, tuple(cfg_options)))


def _sha256(resolved: dict) -> str:
    text = json.dumps(resolved, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _flatten(value, prefix: str = '') -> Dict[str, object]:
    if isinstance(value, dict) and value:
        out: Dict[str, object] = {}
        for k, v in value.items():
            out.update(_flatten(v, f'{prefix}.{k}' if prefix else str(k)))
        return out
    return {prefix: value}


def config_changes(old: dict, new: dict) -> List[str]:
    """``key: old -> new`` for every leaf of two resolved configs that
    differs (``<absent>`` for a missing one), sorted by key."""
    a, b = _flatten(old), _flatten(new)
    absent = '<absent>'
    return [
        f'{k}: {a.get(k, absent)!r} -> {b.get(k, absent)!r}'
        for k in sorted(set(a) | set(b)) if a.get(k, absent) != b.get(
            k, absent)
    ]


def stale_reason(work_dir: str, config: str,
                 cfg_options: Sequence[str] = ()) -> Optional[str]:
    """Why the run in ``work_dir`` was made with another config than
    ``config`` + ``cfg_options`` resolve to now (the changed keys), or None
    when it was made with this one, or has no fingerprint (a new run, or one
    made before fingerprints: reused as it is)."""
    path = osp.join(REPO_ROOT, work_dir, FINGERPRINT_FILE)
    try:
        with open(path) as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        return None
    now = resolved_config(config, cfg_options)
    if recorded.get('sha256') == _sha256(now):
        return None
    changes = config_changes(recorded.get('config', {}), now)
    shown = '; '.join(changes[:6]) + (
        f'; and {len(changes) - 6} more' if len(changes) > 6 else '')
    return f'its config changed since it was made ({shown})'


@functools.lru_cache(maxsize=1)
def code_version() -> Optional[str]:
    """This checkout's commit (``+`` when its tracked files differ from
    it), or None outside a git checkout. A run's numbers depend on the code
    too, and a config fingerprint does not see it."""
    try:
        head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=30)
        if head.returncode:
            return None
        dirty = subprocess.run(
            ['git', 'status', '--porcelain', '--untracked-files=no'],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ('+' if dirty.stdout.strip() else '')


def read_code_version(run_dir: str) -> Optional[str]:
    """The commit recorded in a run's fingerprint (None: not recorded)."""
    try:
        with open(osp.join(run_dir, FINGERPRINT_FILE)) as f:
            return json.load(f).get('code')
    except (OSError, ValueError, AttributeError):
        return None


def _write_fingerprint(abs_dir: str, config: str,
                       cfg_options: Sequence[str]) -> None:
    resolved = resolved_config(config, cfg_options)
    path = osp.join(abs_dir, FINGERPRINT_FILE)
    with open(path + '.tmp', 'w') as f:
        json.dump(
            dict(
                sha256=_sha256(resolved),
                code=code_version(),  # recorded, not compared
                config_file=config,
                cfg_options=list(cfg_options),
                config=resolved),
            f,
            indent=1)
    os.replace(path + '.tmp', path)


def _set_aside(abs_dir: str) -> str:
    """Rename a stale run folder to ``<dir>.stale-<k>`` (kept, not
    deleted); returns the new name."""
    k = 1
    while osp.exists(f'{abs_dir}.stale-{k}'):
        k += 1
    os.replace(abs_dir, f'{abs_dir}.stale-{k}')
    return f'{abs_dir}.stale-{k}'


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
    ``fresh``; an interrupted one resumes from its last checkpoint. Both
    only when the run was made with the config that ``config`` +
    ``cfg_options`` resolve to now (``config_fingerprint.json``): a run
    whose config has changed since is renamed ``<work_dir>.stale-<k>``,
    with a line naming the changed keys, and trained afresh.

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
    stale = None if fresh else stale_reason(work_dir, config, cfg_options)
    if stale:
        moved = _set_aside(abs_dir)
        print(f'{work_dir}: {stale}; the old run is kept in {moved} and '
              'this one trains afresh', flush=True)
    if osp.isfile(done) and not fresh:
        with open(done) as f:
            return json.load(f)
    os.makedirs(abs_dir, exist_ok=True)
    _write_fingerprint(abs_dir, config, cfg_options)
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
