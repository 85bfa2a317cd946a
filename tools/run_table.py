"""Train and test every Table 1 run of one data set, then collect the table.

    python tools/run_table.py --dataset avdigits --seeds 0 1 2 \\
        --out docs/results.md          # or: make table DATASET=avdigits

Per seed: the two unimodal models (``configs/unimodal/*_{dataset}-{m}.py``,
the teachers and the "Uni" row), then every method in both directions
(``configs/baselines/{method}/{method}_*_{dataset}-{direction}.py``,
``configs/fdkd/fdkd_*_{dataset}-{direction}.py``), each student distilled
from the ``selected.pth`` of the teacher of the same seed. The layout is
that of ``benchmarks/avdigits_kd.py``::

    {work_dir}/seed{s}/{dataset}_{modality}/      teachers / Uni
    {work_dir}/seed{s}/{method}_{direction}/      e.g. fdkd_audio_from_visual

so ``--work-dir work_dirs/bench_avdigits`` reuses the benchmark's runs. Each
run is ``fdkd_plugin.utils.runs.train_and_test`` (``tools/train.py`` then
``tools/test.py`` on ``selected.pth``): a finished run (``done.json``) is
reused, an interrupted one resumes, so the sweep continues where it stopped;
a run whose config has changed since it was made (its
``config_fingerprint.json``) is set aside as ``<dir>.stale-<k>`` and
retrained (``--dry-run`` lists such runs with the keys that changed).
A failed run is reported and the sweep goes on (the students of a failed
teacher are skipped); the exit status is then 1. At the end
``tools/analysis_tools/collect_results.py`` prints the table of everything
under ``--work-dir`` (written to ``--out`` / ``--out-csv`` when given).
"""
import argparse
import datetime
import functools
import os
import os.path as osp
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

# tools/ is this script's sys.path[0]: analysis_tools/ is a namespace package
from analysis_tools import collect_results as collector
from fdkd_plugin.experiments import (DATASETS, METHODS, directions_of,
                                     method_config, modalities_of,
                                     unimodal_config)
from fdkd_plugin.utils.runs import (REPO_ROOT, data_options, stale_reason,
                                    train_and_test, write_identity)

CPU_TIMES = """CPU time per run on 2 cores (AV-digits, its 12-epoch schedule):
about 1.2 min for the visual Uni, 2.7-5 min for the audio Uni and about
3 min per distillation run; one seed of all 11 methods in both directions is
2 + 22 runs, about 70 min, so 3 seeds take about 3.5 h. The real data sets
(CREMA-D, AVE, VGGSound) need a GPU."""


# FDKD's two controls, in every table: does its gain need the teacher?
DEFAULT_CONTROLS = ['fdkd:untrained_teacher', 'fdkd:no_teacher_terms']


@dataclass
class PlannedRun:
    """One train-and-test run of the sweep."""
    seed: int
    method: str  # 'uni' for a unimodal model (a teacher)
    student: str  # modality of the trained model
    teacher: Optional[str]  # modality of its teacher, None for 'uni'
    config: str
    work_dir: str
    cfg_options: List[str] = field(default_factory=list)
    teacher_dir: Optional[str] = None  # the teacher run's work dir
    dataset: str = ''

    @property
    def control(self) -> Optional[str]:
        """The control of a ``'method+control'`` run (``model.control``),
        else None."""
        return self.method.partition('+')[2] or None

    @property
    def name(self) -> str:
        if self.teacher is None:
            return f'seed{self.seed} uni {self.student}'
        return f'seed{self.seed} {self.method} {self.student}<-{self.teacher}'

    def is_done(self) -> bool:
        """Finished with the config it would train now (a run whose config
        has changed since is retrained: ``stale``)."""
        return osp.isfile(osp.join(REPO_ROOT, self.work_dir,
                                   'done.json')) and self.stale() is None

    def stale(self) -> Optional[str]:
        """Why this run's folder was made with another config (the keys
        that changed), or None."""
        return stale_reason(self.work_dir, self.config, self.cfg_options)

    def write_identity(self) -> str:
        """``experiment.json`` in the work dir: what this run is, for the
        collector (its table row is ``method`` or ``method+control``)."""
        return write_identity(
            self.work_dir,
            method=self.method.partition('+')[0],
            control=self.control,
            dataset=self.dataset,
            student=self.student,
            teacher=self.teacher,
            seed=self.seed,
            config=self.config)


def available_methods(dataset: str) -> List[str]:
    """Methods with a config for both directions of ``dataset``."""
    return [
        m for m in METHODS
        if not _missing_configs(m, dataset)
    ]


def _missing_configs(method: str, dataset: str) -> List[str]:
    """Why ``method`` lacks a config for a direction of ``dataset``."""
    missing = []
    for direction, _, _ in directions_of(dataset):
        try:
            method_config(method, dataset, direction)
        except FileNotFoundError as e:
            missing.append(str(e))
    return missing


def config_data_root(dataset: str) -> str:
    """The ``data_root`` the data set's configs use (``data/avdigits``)."""
    from mmengine.config import Config
    config = unimodal_config(dataset, modalities_of(dataset)[0])
    cfg = Config.fromfile(osp.join(REPO_ROOT, config), lazy_import=False)
    return cfg.train_dataloader.dataset.data_root


def plan(dataset: str,
         seeds: Sequence[int],
         methods: Sequence[str],
         work_dir: str,
         data_root: str,
         epochs: Optional[int] = None,
         controls: Sequence[str] = ()) -> List[PlannedRun]:
    """The runs, in order: per seed the teachers, then each direction's
    students, each method followed by its controls.

    ``controls`` are ``'METHOD:CONTROL'`` (e.g. ``'fdkd:untrained_teacher'``):
    the method's config with ``model.control=CONTROL``, in
    ``{method}_{control}_{direction}``; the collector shows it as the row
    ``{method}+{control}``.
    """
    by_method: Dict[str, List[str]] = {}
    for item in controls:
        method, _, control = item.partition(':')
        if method not in methods or control not in collector.CONTROLS:
            raise ValueError(
                f'control {item!r} must be METHOD:CONTROL with METHOD one of '
                f'{list(methods)} and CONTROL one of '
                f'{sorted(collector.CONTROLS)}')
        by_method.setdefault(method, []).append(control)
    common = data_options(data_root, epochs)
    runs = []
    for seed in seeds:
        opts = common + [f'randomness.seed={seed}']
        teachers = {}
        for modality in modalities_of(dataset):
            name = f'{dataset}_{modality}'
            teachers[modality] = osp.join(work_dir, f'seed{seed}', name)
            runs.append(
                PlannedRun(seed, 'uni', modality, None,
                           unimodal_config(dataset, modality),
                           teachers[modality],
                           list(opts), dataset=dataset))
        for direction, student, teacher in directions_of(dataset):
            for method in methods:
                config = method_config(method, dataset, direction)
                # DML's configs start both networks from scratch
                uses_teacher = teacher_from_checkpoint(config)
                ckpt = osp.join(teachers[teacher], 'selected.pth')
                for control in [None] + by_method.get(method, []):
                    name = method if control is None else \
                        f'{method}_{control}'
                    runs.append(
                        PlannedRun(
                            seed,
                            method if control is None else
                            f'{method}+{control}',
                            student,
                            teacher,
                            config,
                            osp.join(work_dir, f'seed{seed}',
                                     f'{name}_{direction}'),
                            opts + ([f'model.teacher_ckpt={ckpt}']
                                    if uses_teacher else []) +
                            ([f'model.control={control}'] if control else
                             []),
                            teacher_dir=teachers[teacher]
                            if uses_teacher else None,
                            dataset=dataset))
    return runs


@functools.lru_cache(maxsize=None)
def teacher_from_checkpoint(config: str) -> bool:
    """Whether ``config``'s model loads a trained teacher (its
    ``teacher_ckpt`` is set; None: the teacher starts from scratch)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO_ROOT, config), lazy_import=False)
    return cfg.model.get('teacher_ckpt') is not None


def _hms(seconds: Optional[float]) -> str:
    if seconds is None:
        return '?'
    return str(datetime.timedelta(seconds=int(round(seconds))))


class Progress:
    """Elapsed time and an ETA from the minutes of finished runs (trained
    now, or recorded in a reused run's ``done.json``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.start = clock()
        self.minutes: Dict[str, List[float]] = {}

    @staticmethod
    def kind(run: PlannedRun) -> str:
        # teachers differ per modality (audio Uni ~3x visual Uni); the
        # distillation runs of a data set take about the same time
        return f'uni_{run.student}' if run.teacher is None else 'kd'

    def record(self, run: PlannedRun, minutes: Optional[float]) -> None:
        if minutes is not None:
            self.minutes.setdefault(self.kind(run), []).append(minutes)

    def estimate(self, run: PlannedRun) -> Optional[float]:
        """Minutes ``run`` should take, or None before any run finished."""
        same = self.minutes.get(self.kind(run))
        if same:
            return statistics.mean(same)
        every = [m for ms in self.minutes.values() for m in ms]
        return statistics.mean(every) if every else None

    def eta(self, remaining: Sequence[PlannedRun]) -> Optional[float]:
        """Seconds left for the ``remaining`` runs."""
        todo = [r for r in remaining if not r.is_done()]
        estimates = [self.estimate(r) for r in todo]
        if any(e is None for e in estimates):
            return None
        return 60 * sum(estimates)

    def elapsed(self) -> float:
        return self.clock() - self.start


def execute(runs: Sequence[PlannedRun],
            train: Optional[Callable[..., Dict[str, float]]] = None,
            progress: Optional[Progress] = None,
            metrics: Sequence[str] = ('accuracy/top1', 'mIoU'),
            log: Callable[[str], None] = print,
            jobs: int = 1) -> Dict[str, object]:
    """Run ``runs``; one progress line per run as it ends.

    Args:
        train: ``train_and_test``'s signature; default ``train_and_test``.
        jobs (int): Runs side by side, each process on ``cpu_count // jobs``
            threads (``train(..., threads=...)``). A student starts once its
            teacher has finished; otherwise the runs start in plan order.
            Defaults to 1 (one at a time, with the environment's threads).

    Returns ``{work_dir: metrics dict | 'failed: ...' | 'skipped: ...'}``.
    """
    train = train or train_and_test  # looked up now: tests replace it
    progress = progress or Progress()
    results: Dict[str, object] = {}
    failed = set()
    width = len(str(len(runs)))
    extra = dict(threads=max(1, (os.cpu_count() or 1) //
                             jobs)) if jobs > 1 else {}
    planned = {r.work_dir for r in runs}
    pending = list(range(len(runs)))
    state = threading.Condition()

    def one(i: int) -> None:
        run = runs[i]
        head = f'[{i + 1:>{width}}/{len(runs)}] {run.name}'
        if run.teacher_dir in failed:
            with state:
                results[run.work_dir] = 'skipped: teacher failed'
                failed.add(run.work_dir)
            log(f'{head}: skipped, its teacher failed')
            return
        reused = run.is_done()
        if jobs > 1 and not reused:  # side by side: say what is running
            log(f'{head}: started, log '
                f'{osp.join(run.work_dir, "run.log")}')
        started = progress.clock()
        try:
            run.write_identity()
            result = train(
                run.config, run.work_dir, run.cfg_options, quiet=True,
                **extra)
        except Exception as e:  # a failed run must not stop the sweep
            with state:
                results[run.work_dir] = f'failed: {e}'
                failed.add(run.work_dir)
            what = f'FAILED ({type(e).__name__}), see ' \
                f'{osp.join(run.work_dir, "run.log")}'
        else:
            minutes = result.get('minutes') if reused else \
                (progress.clock() - started) / 60
            with state:
                results[run.work_dir] = result
                progress.record(run, minutes)
            key = next((k for k in metrics if k in result), metrics[0])
            value = result.get(key)
            shown = f'{key} {value:.2f}' if value is not None else f'{key} ?'
            took = f'{minutes:.1f} min' if minutes is not None else '? min'
            what = f'{shown} ({"reused" if reused else "trained"}, {took})'
        with state:
            eta = progress.eta([runs[j] for j in pending])
        log(f'{head}: {what} | elapsed {_hms(progress.elapsed())} | '
            f'ETA {_hms(None if eta is None else eta / jobs)}')

    def ready(run: PlannedRun) -> bool:
        return run.teacher_dir is None or \
            run.teacher_dir not in planned or run.teacher_dir in results

    def lane() -> None:
        while True:
            with state:
                while True:
                    if not pending:
                        return
                    i = next((j for j in pending if ready(runs[j])), None)
                    if i is not None:
                        pending.remove(i)
                        break
                    state.wait()
            try:
                one(i)
            finally:
                with state:
                    results.setdefault(runs[i].work_dir, 'failed: crashed')
                    state.notify_all()

    if jobs <= 1:
        lane()
    else:
        lanes = [threading.Thread(target=lane) for _ in range(jobs)]
        for t in lanes:
            t.start()
        for t in lanes:
            t.join()
    return {r.work_dir: results[r.work_dir] for r in runs}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=CPU_TIMES)
    p.add_argument(
        '--dataset', required=True, choices=sorted(DATASETS))
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument(
        '--methods',
        nargs='+',
        choices=METHODS,
        help='default: every method with configs for the data set')
    p.add_argument(
        '--controls',
        nargs='*',
        default=DEFAULT_CONTROLS,
        metavar='METHOD:CONTROL',
        help='control runs next to their method (model.control), '
        f'default: {" ".join(DEFAULT_CONTROLS)}; give none (--controls) '
        'to run the methods only')
    p.add_argument(
        '--data-root', help="default: the teacher configs' data_root")
    p.add_argument('--work-dir', help='default: work_dirs/table_{dataset}')
    p.add_argument('--epochs', type=int, help='override max_epochs')
    p.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='runs side by side, each on cpu_count / JOBS threads; a '
        'student starts when its teacher has finished (default 1)')
    p.add_argument(
        '--out',
        help='write the Markdown table here '
        '(e.g. docs/results.md)')
    p.add_argument('--out-csv', help='write the table as CSV here')
    p.add_argument(
        '--dry-run',
        action='store_true',
        help='print the planned runs and exit')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    for modality in modalities_of(args.dataset):
        try:
            unimodal_config(args.dataset, modality)
        except FileNotFoundError as e:
            sys.exit(f'{e}: the teachers need it')
    data_root = args.data_root or config_data_root(args.dataset)
    work_dir = args.work_dir or f'work_dirs/table_{args.dataset}'
    present = available_methods(args.dataset)
    if args.methods:
        lacking = [m for m in args.methods if m not in present]
        if lacking:
            sys.exit(f'no configs for {lacking} on {args.dataset}: ' +
                     '; '.join(why for m in lacking
                               for why in _missing_configs(m, args.dataset)))
        methods = args.methods
    else:
        methods = present
        skipped = [m for m in METHODS if m not in present]
        if skipped:
            print(f'no configs for {args.dataset} yet, not run: '
                  f'{", ".join(skipped)}')
    controls = [c for c in args.controls
                if c.partition(':')[0] in methods]
    try:
        runs = plan(args.dataset, args.seeds, methods, work_dir, data_root,
                    args.epochs, controls)
    except ValueError as err:
        sys.exit(f'--controls: {err}')
    stale = {r.work_dir: r.stale() for r in runs}
    done = sum(r.is_done() for r in runs)
    n_stale = sum(why is not None for why in stale.values())
    print(f'{len(runs)} runs ({done} done, {len(runs) - done} to train'
          + (f', of which {n_stale} because their config changed'
             if n_stale else '') +
          f') under {work_dir}; methods: {", ".join(methods)}')
    if args.dry_run:
        for r in runs:
            state = 'stale' if stale[r.work_dir] else \
                'done' if r.is_done() else 'todo'
            model = [o for o in r.cfg_options if o.startswith('model.')]
            print(f'  {state:5}  {r.name}: {r.config} -> {r.work_dir}' +
                  (f' ({", ".join(model)})' if model else ''))
            if stale[r.work_dir]:
                print(f'         {stale[r.work_dir]}')
        return 0
    if not osp.isdir(osp.join(REPO_ROOT, data_root)):
        how = 'build it with `make data`' if args.dataset == 'avdigits' \
            else 'see tools/dataset_converters/'
        sys.exit(f'{data_root} not found: {how}')
    results = execute(runs, jobs=args.jobs)
    failures = [w for w, r in results.items() if isinstance(r, str)]

    argv_collect = [osp.relpath(osp.join(REPO_ROOT, work_dir))]
    if args.out:
        argv_collect += ['--out-md', args.out]
    if args.out_csv:
        argv_collect += ['--out-csv', args.out_csv]
    print()
    collector.main(argv_collect)
    if failures:
        print(f'{len(failures)} runs failed or were skipped: ' +
              ', '.join(failures))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
