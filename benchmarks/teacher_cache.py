"""Teacher-feature cache: training-epoch time with the cache on and off.

Trains the same AV-digits FDKD config twice per repetition in one process,
same seed and weights, ``teacher_cache`` off and on, and prints a Markdown
table: epoch 1 (the cache fills), the median of epochs 2+ (every teacher
forward skipped), the speed-up, the teacher forwards per epoch, and whether
the first-epoch losses of the two runs are identical (they must be: the
cache only stores what the teacher computes). Goal: >= 1.3x on cached
epochs.

The default direction is V <- A, whose teacher (the audio network on the
deterministic spectrogram) is the one a cache may serve; the A <- V teacher
sees random frames and crops, so it runs with ``fixed_view=True`` (one view
per clip, not the same training). Validation and checkpoints are off; the
teacher is the config's ``teacher_ckpt`` (the unimodal config's
``work_dirs/<config name>/selected.pth``) when it exists, else random
weights (the time does not depend on them).

    python benchmarks/teacher_cache.py --max-iters 2 --epochs 2   # smoke
    python benchmarks/teacher_cache.py --epochs 4 --repeats 2     # full
    python benchmarks/teacher_cache.py --cache disk

The data loader still loads both modalities on epoch 2 (the spectrogram
checks each cached input once); from epoch 3 it loads the student's only
(``skip_inputs``, ``fdkd.TeacherInputSkipHook``). While it loads both,
loading bounds the speed-up when it is slower than the remaining step;
``--num-workers`` shows by how much.
"""
import argparse
import contextlib
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional

import numpy as np
import torch

import fdkd_plugin  # noqa: F401
from common import machine_info, training_only
from fdkd_plugin.experiments import method_config
from fdkd_plugin.utils.runs import REPO_ROOT, markdown_table

DIRECTIONS = {
    'visual_from_audio': 'audio',  # name: teacher modality
    'audio_from_visual': 'visual',
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-root', default='data/avdigits')
    p.add_argument('--direction', default='visual_from_audio',
                   choices=list(DIRECTIONS))
    p.add_argument('--epochs', type=int, default=3,
                   help='epochs per run (>= 2: the first fills the cache)')
    p.add_argument('--max-iters', type=int,
                   help='iterations per epoch (the first N batches of the '
                   'training set); default: the whole set')
    p.add_argument('--cache', default='memory', choices=['memory', 'disk'])
    p.add_argument('--precision', default='float32',
                   choices=['float32', 'float16', 'bfloat16'],
                   help='dtype the cached records are stored in')
    p.add_argument('--views', type=int, default=1,
                   help='random views kept per sample (audio_from_visual: '
                   'the visual teacher is random)')
    p.add_argument('--num-workers', type=int,
                   help="loader workers (default: the config's); kept "
                   'alive across epochs in both variants')
    p.add_argument('--repeats', type=int, default=1,
                   help='off/on pairs, in alternating order')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--work-dir', default='work_dirs/bench_teacher_cache')
    p.add_argument('--out', help='also write the table to this file')
    args = p.parse_args(argv)
    if args.epochs < 2:
        p.error(f'--epochs {args.epochs}: needs >= 2 (epoch 1 fills)')
    return args


def make_cfg(args: argparse.Namespace, cache: bool, work_dir: str):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(
        REPO_ROOT, method_config('fdkd', 'avdigits', args.direction)))
    loader = cfg.train_dataloader
    dataset = loader.dataset
    dataset.data_root = args.data_root
    if args.num_workers is not None:
        loader.num_workers = args.num_workers
    # no worker start-up inside the timed epochs (it would weigh the same in
    # both variants, and dominate short ones)
    loader.persistent_workers = loader.num_workers > 0
    if args.max_iters:
        dataset.indices = args.max_iters * loader.batch_size
    teacher = DIRECTIONS[args.direction]
    # the teacher the config names (its unimodal config's default work dir)
    ckpt = osp.join(REPO_ROOT, cfg.model.teacher_ckpt)
    cfg.model.teacher_ckpt = ckpt if osp.isfile(ckpt) else None
    if cache:
        cfg.model.teacher_cache = dict(
            type=args.cache,
            pipeline=dataset.pipeline,
            fixed_view=teacher == 'visual',
            precision=args.precision,
            views=args.views if teacher == 'visual' else 1)
        if args.cache == 'disk':  # a fresh folder: epoch 1 must fill it
            cfg.model.teacher_cache.dir = tempfile.mkdtemp(
                prefix='cache_', dir=work_dir)
    return training_only(cfg, work_dir, args.epochs, args.seed)


def train_once(args: argparse.Namespace, cache: bool, run: int) -> Dict:
    """Epoch seconds, per-iteration losses and teacher forwards of a run."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    work_dir = osp.join(args.work_dir, f'{"on" if cache else "off"}_{run}')
    os.makedirs(work_dir, exist_ok=True)
    runner = Runner.from_cfg(make_cfg(args, cache, work_dir))
    record: Dict = dict(epoch_s=[], losses=[], forwards=[])

    def sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    class Probe(Hook):
        priority = 'VERY_LOW'

        def before_train_epoch(self, runner) -> None:
            sync()
            record['forwards'].append(0)
            self.start = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None) -> None:
            record['losses'].append({
                k: float(v.detach())
                for k, v in outputs.items() if 'loss' in k
            })

        def after_train_epoch(self, runner) -> None:
            sync()
            record['epoch_s'].append(time.perf_counter() - self.start)

    runner.register_hook(Probe())

    def count(*_) -> None:
        record['forwards'][-1] += 1

    runner.model.teacher.register_forward_pre_hook(count)
    runner.train()
    record['iters'] = len(runner.train_dataloader)
    return record


@contextlib.contextmanager
def unformatted_config_text() -> Iterator[None]:
    """The Runner formats its config with yapf for the log: seconds, and
    not part of what is measured. Skipped inside this block only, so a
    process that goes on (a test session) formats configs as before."""
    from mmengine.config import Config
    formatted = Config.pretty_text
    Config.pretty_text = property(lambda c: c.text)
    try:
        yield
    finally:
        Config.pretty_text = formatted


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    runs: Dict[bool, List[Dict]] = {False: [], True: []}
    with unformatted_config_text():
        for rep in range(args.repeats):
            order = (False, True) if rep % 2 == 0 else (True, False)
            for cache in order:
                runs[cache].append(train_once(args, cache, rep))
                r = runs[cache][-1]
                print(f'[{rep}] cache {"on " if cache else "off"}: epochs '
                      + ' '.join(f'{s:.1f}s' for s in r['epoch_s'])
                      + f'; teacher forwards {r["forwards"]}', flush=True)

    def first_epoch(r: Dict) -> List[Dict]:
        return r['losses'][:r['iters']]

    diffs = [
        abs(a[k] - b[k])
        for off, on in zip(runs[False], runs[True])
        for a, b in zip(first_epoch(off), first_epoch(on)) for k in a
    ]
    same = all(d == 0 for d in diffs)
    first = {c: statistics.median(r['epoch_s'][0] for r in runs[c])
             for c in runs}
    later = {c: statistics.median(s for r in runs[c] for s in r['epoch_s'][1:])
             for c in runs}
    teacher = DIRECTIONS[args.direction]
    rows = [('teacher_cache', 'epoch 1 (s)', 'epochs 2+ (s/epoch)',
             'speed-up 2+', 'teacher forwards / epoch')]
    for cache in (False, True):
        label = (f'{args.cache}' + (
            f', fixed_view, views={args.views}' if teacher == 'visual' else
            '') + (f', {args.precision}' if args.precision != 'float32'
                   else '')) if cache else 'off'
        rows.append((label, f'{first[cache]:.2f}', f'{later[cache]:.2f}',
                     f'{later[False] / later[cache]:.2f}x',
                     ' '.join(map(str, runs[cache][0]['forwards']))))
    iters = runs[False][0]['iters']
    lines = [
        f'AV-digits {args.direction} (teacher: {teacher}), {iters} '
        f'iterations per epoch, {args.epochs} epochs, {args.repeats} '
        'repetition(s), medians',
        '',
        markdown_table(rows),
        '',
        'First-epoch losses identical with the cache on and off: '
        f'{"yes" if same else "NO"} (max |diff| '
        f'{max(diffs) if diffs else 0:.3g} over {len(diffs)} values)' +
        ('' if args.precision == 'float32' else
         f'; expected with precision={args.precision}, which rounds the '
         'records'),
        f'Goal: >= 1.3x on cached epochs: '
        f'{"met" if later[False] / later[True] >= 1.3 else "not met"}',
        '',
        machine_info(),
    ]
    text = '\n'.join(lines)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    if not same and teacher == 'audio':
        sys.exit('first-epoch losses differ with the cache on')


if __name__ == '__main__':
    np.set_printoptions(precision=4)
    main()
