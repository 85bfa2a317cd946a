"""Checkpoints that are never read half-written.

MMEngine's ``save_checkpoint`` serializes to memory and hands the bytes to a
file backend's ``put``; :class:`mmengine.fileio.LocalBackend` then opens the
final name with ``'wb'`` and writes into it, so a process killed during the
write leaves a truncated ``epoch_N.pth`` under the name ``--resume`` reads.
:class:`AtomicLocalBackend` writes to a hidden temporary file in the same
folder, ``fsync``\\ s it and renames it over the final name with
``os.replace`` (atomic on POSIX and Windows): the final name holds either the
previous file or the complete new one. Our runtime
(``configs/_base_/default_runtime.py``) selects it for ``CheckpointHook``
with ``backend_args=dict(backend='fdkd.AtomicLocalBackend')``.

:func:`check_checkpoint` validates a checkpoint without unpickling it: a
``torch.save`` file is a zip archive whose members carry CRC-32s, so a
truncated or corrupt file is detected by reading it once.
"""
import os
import os.path as osp
import uuid
import zipfile
from pathlib import Path
from typing import Optional, Union

from mmengine.fileio import LocalBackend, register_backend

__all__ = [
    'ATOMIC_BACKEND', 'AtomicLocalBackend', 'atomic_write_bytes',
    'check_checkpoint', 'is_partial_file', 'partial_files'
]

#: the name ``backend_args`` uses to select :class:`AtomicLocalBackend`
ATOMIC_BACKEND = 'fdkd.AtomicLocalBackend'
# a partial file is `.{final name}.{pid}-{random}.partial` next to the final
# name: hidden, and never matched by MMEngine's `epoch_*.pth` bookkeeping
_PARTIAL_SUFFIX = '.partial'
_ZIP_MAGIC = b'PK\x03\x04'


def _partial_name(path: str) -> str:
    folder, name = osp.split(path)
    token = f'{os.getpid()}-{uuid.uuid4().hex[:8]}'
    return osp.join(folder, f'.{name}.{token}{_PARTIAL_SUFFIX}')


def is_partial_file(name: str) -> bool:
    """Whether ``name`` is a temporary file of :func:`atomic_write_bytes`."""
    name = osp.basename(name)
    return name.startswith('.') and name.endswith(_PARTIAL_SUFFIX)


def partial_files(folder: str) -> list:
    """Temporary files an interrupted :func:`atomic_write_bytes` left in
    ``folder`` (sorted paths)."""
    if not osp.isdir(folder):
        return []
    return sorted(
        osp.join(folder, name) for name in os.listdir(folder)
        if is_partial_file(name))


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (a no-op where folders cannot be
    opened, e.g. on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(data: bytes, path: Union[str, Path]) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never partial.

    The bytes go to ``.{name}.{pid}-{random}.partial`` in the same folder
    (same file system, so the rename is atomic), are flushed and
    ``fsync``\\ ed, then ``os.replace`` puts the file under its final name
    and the folder is ``fsync``\\ ed. On any error the temporary file is
    removed and ``path`` is left as it was; a process killed meanwhile
    leaves only the hidden ``.partial`` file (see :func:`partial_files`).
    The file gets the usual permissions (0o666 less the umask).

    Args:
        data (bytes): The whole content.
        path (str | Path): The final file name; its folder is created.
    """
    path = osp.abspath(os.fspath(path))
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = _partial_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend with atomic ``put`` / ``put_text``.

    Reading, listing, joining and removing are :class:`LocalBackend`'s;
    writing goes through :func:`atomic_write_bytes`. Select it with
    ``backend_args=dict(backend='fdkd.AtomicLocalBackend')`` wherever
    MMEngine takes ``backend_args`` (``CheckpointHook``,
    ``mmengine.runner.save_checkpoint``, ``mmengine.fileio.put``).
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), filepath)


# idempotent: a second import (or a reload) replaces the same class
register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def check_checkpoint(path: Union[str, Path]) -> Optional[str]:
    """Why the checkpoint at ``path`` cannot be read, or None if it can.

    Nothing is unpickled: a ``torch.save`` zip archive must be complete
    (its central directory is at the end, so truncation is caught), every
    member must match its CRC-32 and ``data.pkl`` must be there. A file in
    torch's legacy (non-zip) format cannot be checked this way and is
    accepted as it is.

    Returns:
        str | None: e.g. ``'truncated or not a complete zip archive
        (12345 bytes)'``; None for a checkpoint that reads back whole.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        return 'no such file'
    size = osp.getsize(path)
    if size == 0:
        return 'empty file (0 bytes)'
    with open(path, 'rb') as f:
        magic = f.read(len(_ZIP_MAGIC))
    if magic != _ZIP_MAGIC:
        return None  # legacy torch.save format: torch.load will judge it
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        return f'truncated or not a complete zip archive ({size} bytes: {e})'
    if bad is not None:
        return f'member {bad!r} fails its CRC check ({size} bytes)'
    if not any(n == 'data.pkl' or n.endswith('/data.pkl') for n in names):
        return f'no data.pkl in the archive ({size} bytes)'
    return None
