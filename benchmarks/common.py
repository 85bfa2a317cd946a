"""What the speed benchmarks share: the machine line and interleaved timing.

Every benchmark measures its variants in one process, on one machine, and
reports medians over repetitions taken in turn (A, B, A, B, ...), so that a
load change on a shared machine hits all variants alike.
"""
import os
import platform
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import torch

__all__ = [
    'machine_info', 'interleaved', 'median_ms', 'Timer', 'training_only'
]


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: Optional[torch.device] = None) -> str:
    """One Markdown line naming what the numbers were measured on.

    CPU model (``/proc/cpuinfo``), logical cores and those this process may
    use, the load average when the benchmark started, torch's version and
    intra-op threads, and the GPU's name when ``device`` is CUDA.
    """
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    try:
        load = '{:.2f} {:.2f} {:.2f}'.format(*os.getloadavg())
    except OSError:
        load = '?'
    parts = [
        f'CPU: {_cpu_model()} ({cores} logical cores, {usable} usable, '
        f'load average {load})',
        f'torch {torch.__version__}, {torch.get_num_threads()} threads',
        f'Python {sys.version.split()[0]}',
    ]
    if device is not None and device.type == 'cuda':
        parts.insert(1, f'GPU: {torch.cuda.get_device_name(device)} '
                     f'(CUDA {torch.version.cuda})')
    return 'Machine: ' + '; '.join(parts)


class Timer:
    """Wall-clock seconds of a block, synchronizing CUDA on both ends so the
    GPU's queued work is inside the interval."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == 'cuda'
        self.seconds = 0.0

    def __enter__(self) -> 'Timer':
        if self.cuda:
            torch.cuda.synchronize()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self._start


def interleaved(runs: Dict[str, Callable[[], float]], reps: int,
                warmup: int = 1) -> Dict[str, List[float]]:
    """Call each ``runs[name]()`` ``warmup`` times, then ``reps`` rounds of
    all of them in turn; each call returns the seconds it measured.

    Returns:
        dict[str, list[float]]: the ``reps`` measurements of each name.
    """
    if reps < 1:
        raise ValueError(f'reps={reps} must be >= 1')
    for _ in range(warmup):
        for run in runs.values():
            run()
    times: Dict[str, List[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            times[name].append(run())
    return times


def median_ms(values: List[float]) -> float:
    """The median of seconds, in milliseconds."""
    return statistics.median(values) * 1e3


def training_only(cfg, work_dir: str, epochs: int, seed: int = 0):
    """``cfg`` set up to time training epochs: ``epochs`` epochs into
    ``work_dir`` with ``seed``, no validation, test, checkpoints, learning-rate
    schedule, other custom hooks or per-interval logging. Returns ``cfg``.

    The one custom hook kept is ``fdkd.TeacherInputSkipHook``: it changes
    what a cached epoch costs, not what is checked or logged (without a
    teacher cache it does nothing)."""
    cfg.work_dir = work_dir
    cfg.experiment_name = os.path.basename(work_dir)
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
    cfg.custom_hooks = [dict(type='fdkd.TeacherInputSkipHook')]
    cfg.log_level = 'WARNING'
    return cfg
