"""Pick the checkpoint ``--resume`` reads, and never a half-written one.

MMEngine's auto-resume reads the path in ``work_dir/last_checkpoint`` and
unpickles it; a checkpoint truncated by a crash (a run killed during a save
before checkpoints were written atomically, a full disk, a copy cut short)
ends in a raw ``PytorchStreamReader failed reading zip archive`` traceback.
:func:`resolve_resume` runs before the runner is built
(:func:`fdkd_plugin.utils.cli.merge_train_args`) and validates the
checkpoint first (:func:`~fdkd_plugin.engine.checkpoint_io.check_checkpoint`,
nothing is unpickled):

- auto resume (``--resume`` without a value): when the last checkpoint is
  unusable, the newest complete ``epoch_N.pth`` / ``iter_N.pth`` before it
  is used instead, with one warning naming both files; the epochs after it
  are trained again (on CPU with deterministic settings, to the same
  weights). An empty or missing ``last_checkpoint`` falls back the same
  way when checkpoints exist. With no usable checkpoint at all it is an
  error that lists every file and why it was refused.
- ``--resume PATH``: an unusable PATH is an error naming it and listing the
  complete checkpoints next to it; a file the user chose is not replaced
  silently.

The hidden ``.partial`` files an interrupted atomic save leaves behind
(:func:`~fdkd_plugin.engine.checkpoint_io.atomic_write_bytes`) are removed.
"""
import logging
import os
import os.path as osp
import re
from typing import List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

from .checkpoint_io import check_checkpoint, partial_files

__all__ = ['ResumeError', 'resolve_resume', 'resumable_checkpoints']

#: the checkpoints CheckpointHook keeps for resuming (``best_*.pth`` have no
#: optimizer state and are not resumed from)
_RESUMABLE = re.compile(r'^(?:epoch|iter)_(\d+)\.pth$')
_LAST = 'last_checkpoint'


class ResumeError(RuntimeError):
    """No checkpoint that ``--resume`` asked for can be read."""


def _is_main() -> bool:
    # called before the process group exists: torchrun's RANK says it
    return os.environ.get('RANK', '0') == '0'


def _step(path: str) -> Optional[int]:
    m = _RESUMABLE.match(osp.basename(path))
    return int(m.group(1)) if m else None


def resumable_checkpoints(folder: str) -> List[str]:
    """``epoch_N.pth`` / ``iter_N.pth`` in ``folder``, newest (largest N)
    first."""
    if not osp.isdir(folder):
        return []
    found = [
        osp.join(folder, name) for name in os.listdir(folder)
        if _RESUMABLE.match(name) and osp.isfile(osp.join(folder, name))
    ]
    return sorted(found, key=lambda p: _step(p), reverse=True)


def _is_remote(path: str) -> bool:
    return '://' in path


def _remove_partials(folders: List[str]) -> None:
    if not _is_main():
        return
    for folder in dict.fromkeys(folders):
        for path in partial_files(folder):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            print_log(
                f'removed {path}, a checkpoint an interrupted save left '
                'half-written (it was never under its final name)',
                logger='current',
                level=logging.INFO)


def _first_usable(paths: List[str]) -> Tuple[Optional[str], list]:
    refused = []
    for path in paths:
        reason = check_checkpoint(path)
        if reason is None:
            return path, refused
        refused.append((path, reason))
    return None, refused


def _describe(refused: list) -> str:
    return '; '.join(f'{p}: {r}' for p, r in refused)


def resolve_resume(cfg: Config) -> Config:
    """Validate (and if needed replace) the checkpoint a resumed run reads.

    Does nothing unless ``cfg.resume`` is set. Remote paths (``s3://``...)
    are left to MMEngine.

    Args:
        cfg (Config): A merged training config (``work_dir`` set).

    Returns:
        Config: ``cfg``, with ``load_from`` set to the fallback checkpoint
        when the last one is unusable.

    Raises:
        ResumeError: ``--resume PATH`` names an unusable file, or auto
            resume finds checkpoints but none is usable.
    """
    if not cfg.get('resume', False):
        return cfg
    work_dir = cfg.work_dir
    load_from = cfg.get('load_from', None)

    if load_from is not None:  # --resume PATH
        if _is_remote(load_from):
            return cfg
        path = osp.expanduser(load_from)
        reason = check_checkpoint(path)
        if reason is None:
            return cfg
        usable = [
            p for p in resumable_checkpoints(osp.dirname(path) or '.')
            if p != path and check_checkpoint(p) is None
        ]
        hint = (f'complete checkpoints there: {", ".join(usable)}; pass one '
                'to --resume') if usable else (
                    'no complete epoch_N.pth / iter_N.pth next to it; drop '
                    '--resume to train from the start')
        raise ResumeError(
            f'--resume {load_from}: cannot resume from this file ({reason}); '
            f'{hint}')

    last_file = osp.join(work_dir, _LAST)
    recorded = None
    if osp.isfile(last_file):
        with open(last_file) as f:
            recorded = f.read().strip() or None
    if recorded is not None and _is_remote(recorded):
        return cfg

    if recorded is not None:
        candidate = recorded
        moved = osp.join(work_dir, osp.basename(recorded))
        if not osp.isfile(candidate) and osp.isfile(moved):
            candidate = moved  # the work dir was moved or copied
        folder = osp.dirname(candidate) or '.'
        _remove_partials([folder, work_dir])
        reason = check_checkpoint(candidate)
        if reason is None:
            if candidate != recorded:
                cfg.load_from = candidate
            return cfg
        step = _step(candidate)
        older = [
            p for p in resumable_checkpoints(folder) +
            resumable_checkpoints(work_dir)
            if osp.abspath(p) != osp.abspath(candidate) and (
                step is None or _step(p) < step)
        ]
        what = f'the last checkpoint {candidate} ({reason})'
    else:
        _remove_partials([work_dir])
        older = resumable_checkpoints(work_dir)
        if not older:
            return cfg  # nothing saved yet: MMEngine starts from scratch
        state = 'is empty' if osp.isfile(last_file) else 'does not exist'
        what = f'{last_file} {state}'
        candidate, reason = last_file, state

    fallback, refused = _first_usable(list(dict.fromkeys(older)))
    if fallback is None:
        refused = [(candidate, reason)] + refused
        raise ResumeError(
            f'--resume: no usable checkpoint in {work_dir} '
            f'({_describe(refused)}); drop --resume to train from the start, '
            'or pass a checkpoint to --resume')
    skipped = f' (also refused: {_describe(refused)})' if refused else ''
    if _is_main():
        print_log(
            f'--resume: {what} cannot be resumed from; resuming from the '
            f'previous checkpoint {fallback} instead{skipped}. The epochs '
            'after it are trained again.',
            logger='current',
            level=logging.WARNING)
    cfg.load_from = fallback
    return cfg
