"""Scaling: epoch time and peak memory against the data set's size and the
teacher cache's size, to plan runs on VGGSound- or NYU-sized data.

For each scale ``k`` (``--scales``, default 1 4 16) the AV-digits training
set is listed ``k`` times: a folder under ``--work-dir`` holds ``k`` links
to each clip of ``--data-root`` under distinct clip ids and a ``train.csv``
naming them all, so ``k * 1500`` samples, each its own ``sample_idx`` (and
its own cache row). The files themselves are the same 1500 and stay in the
page cache: what grows is the per-sample work, the index and the cache, not
disk reads.

For each scale and variant one fresh process trains ``--epochs`` epochs
(validation, checkpoints and the learning-rate schedule off, the config's
loader with its workers kept alive) and reports its start-up (building the
runner, model and data set until the first epoch), each epoch's seconds, its
peak resident memory and that of its loader workers, and the teacher cache's
size. Variants (``--variants``):

- ``uni``: the visual student alone (the unimodal AV-digits config);
- ``fdkd``: FDKD V <- A, no cache;
- ``memory``: FDKD V <- A with ``teacher_cache=dict(type='memory')``;
  epoch 1 fills the cache, later epochs skip the teacher and, through
  ``fdkd.TeacherInputSkipHook``, the loading of its input (the audio);
- ``disk``: the same with ``type='disk'`` (``.npy`` memory maps, filled
  from empty in epoch 1);
- ``memory-noskip`` (not run by default): ``memory`` with
  ``skip_inputs=False``: the teacher skipped, its input still loaded.

The cache variants run with ``verify_inputs=False``, so that epoch 2 is
the steady state: a run with the default ``verify_inputs=True`` reaches it
from epoch 3, its epoch 2 checking each sample's input once against the
cached digest (that epoch costs what ``memory-noskip`` costs).

V <- A is the direction whose teacher a cache serves exactly (the audio
network on the deterministic spectrogram; ``benchmarks/teacher_cache.py``
times the other with ``fixed_view``). The teacher is the config's
``teacher_ckpt`` when it exists, else random weights (time and memory do
not depend on them).

    python benchmarks/scaling.py --scales 1 --epochs 2 --max-iters 2  # smoke
    python benchmarks/scaling.py                                      # full
    python benchmarks/scaling.py --scales 1 4 --variants uni memory

Prints a Markdown table, then per variant how time and memory grow from the
smallest to the largest scale, and FDKD-with-cache over Uni per epoch
(issue 18's goal: <= 1.05 on cached epochs).
"""
import argparse
import gc
import json
import os
import os.path as osp
import resource
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional

import fdkd_plugin  # noqa: F401
from common import machine_info, training_only
from fdkd_plugin.experiments import method_config, unimodal_config
from fdkd_plugin.utils.runs import REPO_ROOT, markdown_table

VARIANTS = ('uni', 'fdkd', 'memory', 'disk', 'memory-noskip')
DEFAULT_VARIANTS = VARIANTS[:4]
GOAL = 1.05  # FDKD with cache / Uni, cached epochs


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-root', default='data/avdigits')
    p.add_argument('--scales', type=int, nargs='+', default=[1, 4, 16])
    p.add_argument('--variants', nargs='+', default=list(DEFAULT_VARIANTS),
                   choices=VARIANTS)
    p.add_argument('--epochs', type=int, default=2,
                   help='epochs per run (>= 2: the first fills the cache)')
    p.add_argument('--max-iters', type=int,
                   help='iterations per epoch (the first N batches); '
                   'default: the whole scaled set (smoke tests only)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--work-dir', default='work_dirs/bench_scaling')
    p.add_argument('--out', help='also write the table to this file')
    p.add_argument('--one', help=argparse.SUPPRESS)  # a child's job (JSON)
    args = p.parse_args(argv)
    if args.epochs < 2:
        p.error(f'--epochs {args.epochs}: needs >= 2 (epoch 1 fills the '
                'cache, and epoch 1 of every variant holds start-up work)')
    if any(k < 1 for k in args.scales):
        p.error(f'--scales {args.scales}: each must be >= 1')
    return args


def scaled_root(data_root: str, k: int, work_dir: str) -> str:
    """A folder whose training index lists every clip of ``data_root``
    ``k`` times, as ``k`` distinct clips (the data set drops a repeated
    row): copy ``r > 0`` of clip ``c`` is ``c_r{r}``, its audio file and
    frame folder links to ``c``'s. Validation and test clips are linked as
    they are. Made anew each call.

    Raises:
        FileNotFoundError: ``data_root`` has no AV-digits training index.
    """
    from fdkd_plugin.datasets import AVDigitsDataset
    src = osp.abspath(osp.join(REPO_ROOT, data_root))
    if not osp.isfile(osp.join(src, 'train.csv')):
        raise FileNotFoundError(
            f'{osp.join(src, "train.csv")} not found: the scaling benchmark '
            'needs the AV-digits data set (`make data`)')
    root = osp.join(work_dir, f'data_x{k}')
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    templates = (AVDigitsDataset.AUDIO_TMPL['wav'],
                 AVDigitsDataset.FRAMES_TMPL)

    def link(clip_id: str, copy_id: str) -> None:
        for tmpl in templates:
            dst = osp.join(root, tmpl.format(clip_id=copy_id))
            os.makedirs(osp.dirname(dst), exist_ok=True)
            os.symlink(osp.join(src, tmpl.format(clip_id=clip_id)), dst)

    for name in os.listdir(src):
        if name.endswith('.csv') or name == 'meta.json':
            if name != 'train.csv':
                os.symlink(osp.join(src, name), osp.join(root, name))
            if name in ('val.csv', 'test.csv'):
                with open(osp.join(src, name)) as f:
                    for line in f:
                        if line.strip():
                            clip_id = line.split(',')[0]
                            link(clip_id, clip_id)
    rows = []
    with open(osp.join(src, 'train.csv')) as f:
        for line in f:
            if not line.strip():
                continue
            clip_id, rest = line.rstrip('\n').split(',', 1)
            for r in range(k):
                copy_id = clip_id if r == 0 else f'{clip_id}_r{r}'
                link(clip_id, copy_id)
                rows.append(f'{copy_id},{rest}')
    with open(osp.join(root, 'train.csv'), 'w') as f:
        f.write('\n'.join(rows) + '\n')
    return root


def make_cfg(job: Dict):
    """The config of one run (see the module docstring)."""
    from mmengine.config import Config
    uni = job['variant'] == 'uni'
    path = unimodal_config('avdigits', 'visual') if uni else \
        method_config('fdkd', 'avdigits', 'visual_from_audio')
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    loader = cfg.train_dataloader
    loader.dataset.data_root = job['root']
    # worker start-up once per run, not inside every timed epoch
    loader.persistent_workers = loader.num_workers > 0
    if job['max_iters']:
        loader.dataset.indices = job['max_iters'] * loader.batch_size
    if not uni:
        ckpt = osp.join(REPO_ROOT, cfg.model.teacher_ckpt)
        cfg.model.teacher_ckpt = ckpt if osp.isfile(ckpt) else None
    cached = job['variant'] in ('memory', 'disk', 'memory-noskip')
    if cached:
        cfg.model.teacher_cache = dict(
            type=job['variant'].split('-')[0],
            pipeline=loader.dataset.pipeline,
            verify_inputs=False,  # epoch 2 is the steady state
            skip_inputs=job['variant'] != 'memory-noskip')
        if job['variant'] == 'disk':
            cfg.model.teacher_cache.dir = osp.join(job['work_dir'], 'cache')
    return training_only(cfg, job['work_dir'], job['epochs'], job['seed'])


def _tree_bytes(root: str) -> int:
    """Bytes the files under ``root`` take on disk (allocated blocks, as
    ``du`` counts them: a sparse memory map counts what was written)."""
    return sum(
        os.stat(osp.join(d, f)).st_blocks * 512
        for d, _, files in os.walk(root) for f in files)


def _memory_cache_bytes(cache) -> int:
    rows = getattr(cache.store, '_rows', {})
    return sum(t.numel() * t.element_size()
               for _, leaves in rows.values() for t in leaves)


def run_one(job: Dict) -> Dict:
    """Train one variant in this process; what the parent tabulates."""
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    cuda = torch.cuda.is_available()
    stamps: Dict[str, List[float]] = dict(start=[], end=[])
    skipped: List[bool] = []  # per epoch: the teacher's input not loaded

    class EpochClock(Hook):
        priority = 'VERY_LOW'  # after TeacherInputSkipHook's switch

        def before_train_epoch(self, runner) -> None:
            flags = [h.flag for h in runner.hooks
                     if type(h).__name__ == 'TeacherInputSkipHook']
            skipped.append(bool(flags and flags[0] is not None
                                and flags[0][0]))
            if cuda:
                torch.cuda.synchronize()
            stamps['start'].append(time.perf_counter())

        def after_train_epoch(self, runner) -> None:
            if cuda:
                torch.cuda.synchronize()
            stamps['end'].append(time.perf_counter())

    os.makedirs(job['work_dir'], exist_ok=True)
    begin = time.perf_counter()
    runner = Runner.from_cfg(make_cfg(job))
    runner.register_hook(EpochClock())
    runner.train()
    cache = getattr(runner.model, 'teacher_cache', None)
    result = dict(
        samples=len(runner.train_dataloader.dataset),
        iters=len(runner.train_dataloader),
        startup_s=stamps['start'][0] - begin,
        epoch_s=[e - s for s, e in zip(stamps['start'], stamps['end'])],
        skipped_inputs=skipped,
        cache_bytes=None if cache is None else (
            _tree_bytes(osp.join(job['work_dir'], 'cache'))
            if job['variant'] == 'disk' else _memory_cache_bytes(cache)),
        cuda_peak_bytes=torch.cuda.max_memory_allocated() if cuda else None)
    del runner, cache
    gc.collect()  # ends the persistent workers, so they are counted below
    # ru_maxrss is in KiB on Linux
    result['rss_peak_bytes'] = \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result['workers_rss_peak_bytes'] = \
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return result


def spawn(job: Dict) -> Dict:
    """``run_one(job)`` in a fresh interpreter (a clean peak RSS)."""
    out = osp.join(job['work_dir'], 'result.json')
    if osp.exists(out):
        os.remove(out)
    cmd = [sys.executable, osp.abspath(__file__), '--one', json.dumps(job)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True,
                          text=True)
    if proc.returncode != 0 or not osp.isfile(out):
        raise RuntimeError(
            f'scaling run {job["variant"]} x{job["scale"]} failed (exit '
            f'{proc.returncode}):\n{proc.stderr[-4000:]}')
    with open(out) as f:
        return json.load(f)


def mib(n: Optional[int]) -> str:
    return '-' if n is None else f'{n / 2**20:.0f}'


def report(results: List[Dict], args: argparse.Namespace) -> str:
    later = lambda r: sum(r['epoch_s'][1:]) / len(r['epoch_s'][1:])  # noqa
    rows = [('scale', 'samples', 'variant', 'start-up (s)', 'epoch 1 (s)',
             'epochs 2+ (s/epoch)', 'ms / sample (2+)', 'peak RSS (MiB)',
             'workers peak RSS (MiB)', 'cache (MiB)')]
    for r in results:
        rows.append((f'x{r["scale"]}', str(r['samples']), r['variant'],
                     f'{r["startup_s"]:.1f}', f'{r["epoch_s"][0]:.1f}',
                     f'{later(r):.1f}',
                     f'{1e3 * later(r) / r["samples"]:.2f}',
                     mib(r['rss_peak_bytes']),
                     mib(r['workers_rss_peak_bytes']),
                     mib(r['cache_bytes'])))
    if any(r['cuda_peak_bytes'] is not None for r in results):
        rows[0] += ('CUDA peak (MiB)', )
        for row, r in zip(rows[1:], results):
            row += (mib(r['cuda_peak_bytes']), )
    lines = [
        f'AV-digits V <- A, training set listed k times ({args.data_root}),'
        f' {args.epochs} epochs per run, one process per run'
        + (f', {args.max_iters} iterations per epoch' if args.max_iters
           else ''), '', markdown_table(rows), ''
    ]
    by = {(r['variant'], r['scale']): r for r in results}
    lo, hi = min(args.scales), max(args.scales)
    if hi > lo:
        lines.append(f'Growth from x{lo} to x{hi} (x{hi // lo} the samples):')
        for v in args.variants:
            a, b = by[(v, lo)], by[(v, hi)]
            rss = (b['rss_peak_bytes'] - a['rss_peak_bytes']) / 2**20
            grow = [f'epoch time x{later(b) / later(a):.2f}',
                    f'peak RSS {rss:+.0f} MiB',
                    f'start-up {a["startup_s"]:.1f} -> {b["startup_s"]:.1f} s']
            if b['cache_bytes']:
                grow.append('cache {:.2f} KiB per sample'.format(
                    b['cache_bytes'] / b['samples'] / 1024))
            lines.append(f'- {v}: ' + ', '.join(grow))
        lines.append('')
    if 'uni' in args.variants:
        for v in ('memory', 'disk', 'memory-noskip'):
            if v not in args.variants:
                continue
            ratios = [later(by[(v, k)]) / later(by[('uni', k)])
                      for k in args.scales]
            lines.append(
                f'FDKD with the {v} cache / Uni, epochs 2+: ' + ', '.join(
                    f'x{k} {q:.2f}' for k, q in zip(args.scales, ratios))
                + f' (goal <= {GOAL:.2f}: '
                + ('met' if max(ratios) <= GOAL else 'NOT met') + ')')
        lines.append('')
    lines.append(machine_info())
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> str:
    args = parse_args(argv)
    if args.one:
        job = json.loads(args.one)
        result = dict(job, **run_one(job))
        with open(osp.join(job['work_dir'], 'result.json'), 'w') as f:
            json.dump(result, f)
        return ''
    work_dir = osp.abspath(osp.join(REPO_ROOT, args.work_dir))
    results = []
    for k in sorted(args.scales):
        root = scaled_root(args.data_root, k, work_dir)
        for v in args.variants:
            run_dir = osp.join(work_dir, f'x{k}_{v}')
            shutil.rmtree(run_dir, ignore_errors=True)  # a fresh cache
            job = dict(scale=k, variant=v, root=root, work_dir=run_dir,
                       epochs=args.epochs, max_iters=args.max_iters,
                       seed=args.seed)
            print(f'[scaling] x{k} {v} ...', flush=True)
            r = spawn(job)
            print(f'[scaling] x{k} {v}: start-up {r["startup_s"]:.1f} s, '
                  'epochs ' + ' '.join(f'{s:.1f}' for s in r['epoch_s'])
                  + f' s, peak RSS {mib(r["rss_peak_bytes"])} MiB',
                  flush=True)
            results.append(r)
    text = report(results, args)
    print('\n' + text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return text


if __name__ == '__main__':
    main()
