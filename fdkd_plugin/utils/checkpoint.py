"""Loading checkpoints and pickled arrays without running their code.

A pickle names functions ("globals") that unpickling calls; a crafted
checkpoint can name ``builtins.open`` or ``os.system``. Every load in fdkd
therefore goes through one of two restricted readers:

- :func:`safe_load` - ``torch.load(weights_only=True)`` with exactly the
  globals MMEngine checkpoints hold beyond tensors and containers
  allow-listed (:func:`checkpoint_safe_globals`). ``import fdkd_plugin``
  registers it as MMEngine's local ``CheckpointLoader`` scheme, so
  ``teacher_ckpt``, ``load_from``, ``--resume``, ``tools/test.py`` and the
  analysis tools all read through it; ``extract_student.py`` calls it.
- :func:`load_numpy_pickle` - ``pickle.load`` that may only rebuild numpy
  arrays (the ``audio_format='pkl'`` spectrograms).

Trust model: a file that needs any other global is refused with an
:class:`UnsafePickleError` naming the file and the global, before anything
it names is called. Only if you trust where it came from, pass
``--unsafe-load`` to ``tools/train.py`` / ``tools/test.py`` /
``tools/model_converters/extract_student.py`` (the first two set the
top-level config key ``unsafe_load = True``, which may also be written in a
config or given as ``--cfg-options unsafe_load=True``): the process then
unpickles fully. In your own scripts, use ``with unsafe_load(): ...``.
"""
import contextlib
import os.path as osp
import pickle
import pickletools
import re
import zipfile
from typing import IO, Any, Iterator, List, Optional, Union

import numpy as np
import torch

__all__ = [
    'UnsafePickleError', 'UNSAFE_LOAD_KEY', 'UNSAFE_LOAD_FLAG',
    'checkpoint_safe_globals', 'safe_load', 'load_numpy_pickle',
    'pickle_globals',
    'set_unsafe_load', 'unsafe_load_enabled', 'unsafe_load',
    'honour_config'
]

#: The top-level config key that trusts every checkpoint of a run.
UNSAFE_LOAD_KEY = 'unsafe_load'
#: The tools' flag that sets it.
UNSAFE_LOAD_FLAG = '--unsafe-load'

# the process-wide trust switch (set by the tools from the config)
_unsafe_load = False


class UnsafePickleError(pickle.UnpicklingError):
    """A file needs a global that restricted unpickling does not allow.

    Attributes:
        path (str): The file.
        globals (list[str]): The offending globals, ``module.name``; empty
            when they could not be told apart.
    """

    def __init__(self, path: str, globals_: List[str], detail: str,
                 what: str = 'checkpoint') -> None:
        self.path = path
        self.globals = list(globals_)
        needs = f'it needs {", ".join(self.globals)}, which fdkd does not ' \
            f'allow ({detail})' if self.globals else detail
        super().__init__(
            f'{path}: refusing to unpickle this {what}: {needs}; unpickling '
            'an unknown global can run arbitrary code. Only if you trust '
            'where this '
            f'file came from: pass {UNSAFE_LOAD_FLAG} to tools/train.py, '
            'tools/test.py or tools/model_converters/extract_student.py '
            f'(or set `{UNSAFE_LOAD_KEY} = True` in the config).')


# ---------------------------------------------------------------- trust switch
def set_unsafe_load(enabled: bool) -> bool:
    """Trust (True) or refuse (False) unknown globals in every later load
    of this process that does not pass ``trust`` itself.

    Returns:
        bool: The previous setting.
    """
    global _unsafe_load
    if not isinstance(enabled, bool):
        raise TypeError(f'{UNSAFE_LOAD_KEY}={enabled!r} must be True or '
                        'False')
    previous, _unsafe_load = _unsafe_load, enabled
    return previous


def unsafe_load_enabled() -> bool:
    """Whether unknown globals are trusted process-wide."""
    return _unsafe_load


@contextlib.contextmanager
def unsafe_load(enabled: bool = True) -> Iterator[None]:
    """:func:`set_unsafe_load` for the ``with`` block only."""
    previous = set_unsafe_load(enabled)
    try:
        yield
    finally:
        set_unsafe_load(previous)


def honour_config(cfg: Any) -> bool:
    """Set the process-wide trust from the config's ``unsafe_load`` key
    (absent: False).

    Args:
        cfg (Config | dict): The run's config.

    Returns:
        bool: The setting now in force.

    Raises:
        TypeError: ``unsafe_load`` is not a bool.
    """
    value = cfg.get(UNSAFE_LOAD_KEY, False)
    set_unsafe_load(value)
    return value


def _trusted(trust: Optional[bool]) -> bool:
    return _unsafe_load if trust is None else bool(trust)


# ---------------------------------------------------------------- checkpoints
# the statistics HistoryBuffer.__init__ registers (mmengine 0.10.7)
_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')

def _history_buffer_method(owner: Any, name: str) -> Any:
    """``builtins.getattr`` as a HistoryBuffer checkpoint uses it.

    ``HistoryBuffer.__getstate__`` stores its statistics methods, which
    pickle as ``getattr(HistoryBuffer, 'min')``. A general ``getattr`` would
    reach any method of an allowed object (``ndarray.tofile`` writes a
    file), so only a HistoryBuffer method that is a registered statistic is
    given out.
    """
    from mmengine.logging import HistoryBuffer

    # HistoryBuffer fills ``_statistics_methods`` with its four built-in
    # statistics only when the first instance is made, so a fresh process
    # (``--resume``) sees an empty table: name them here as well
    statistics = set(_BUILTIN_STATISTICS) | set(
        HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and isinstance(name, str) and \
            name in statistics and name in vars(HistoryBuffer):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({owner!r}, {name!r}) is not allowed: only '
        'HistoryBuffer statistics methods are (builtins.getattr)')


def _empty_bytes(*args: Any) -> bytes:
    """``builtins.bytes`` as numpy uses it: ``bytes()`` is how pickle
    protocol 2 writes the empty data of a zero-size array (an empty
    HistoryBuffer). Nothing else (``bytes(n)`` would allocate n bytes)."""
    if args:
        raise pickle.UnpicklingError(
            f'bytes{args!r} is not allowed: only bytes() (builtins.bytes)')
    return b''


def checkpoint_safe_globals() -> List[Any]:
    """The globals an MMEngine / fdkd checkpoint holds beyond what
    ``torch.load(weights_only=True)`` allows by default (tensors, dtypes,
    ``OrderedDict``, ``Counter``, ``set``, ``_codecs.encode``, ``complex``).

    - ``mmengine.logging.history_buffer.HistoryBuffer``: the message hub's
      ``log_scalars`` (every logged loss / lr / metric), which ``--resume``
      restores.
    - ``numpy._core.multiarray._reconstruct``, ``numpy.ndarray``,
      ``numpy.dtype``: the two arrays inside each HistoryBuffer (values and
      counts).
    - ``numpy._core.multiarray.scalar``: numpy scalars, e.g. a metric the
      message hub's ``runtime_info`` keeps.
    - ``numpy.dtypes.Float64DType``, ``Int64DType`` ... (the numeric
      dtypes' classes): torch's unpickler sets a dtype's state (``BUILD``)
      only on an instance of an allowed type, and numpy 2 gives every dtype
      its own class.
    - ``builtins.getattr``, as :func:`_history_buffer_method` (only
      ``HistoryBuffer.min`` / ``max`` / ``current`` / ``mean`` ...): the
      statistics methods HistoryBuffer pickles with its state.
    - ``builtins.bytes``, as :func:`_empty_bytes` (only ``bytes()``): the
      data of an empty HistoryBuffer's arrays.

    All of these only build data: none opens files or runs commands.
    """
    from mmengine.logging import HistoryBuffer
    from numpy._core.multiarray import _reconstruct, scalar
    numeric_dtype_classes = [
        type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32,
                                    np.int64, np.uint8, np.uint16, np.uint32,
                                    np.uint64, np.float16, np.float32,
                                    np.float64, np.complex64, np.complex128)
    ]
    return numeric_dtype_classes + [
        HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar,
        (_history_buffer_method, 'builtins.getattr'),
        (_empty_bytes, 'builtins.bytes')
    ]


@contextlib.contextmanager
def _allowed_for_checkpoints() -> Iterator[None]:
    """``torch.serialization.safe_globals`` with our allow-list.

    A context, not ``add_safe_globals``: other ``torch.load`` calls of the
    process keep torch's default list. Only globals the user has not added
    already are added (and removed on exit), so a user's own
    ``add_safe_globals`` survives.
    """
    present = set(torch.serialization.get_safe_globals())
    ours = [g for g in checkpoint_safe_globals() if g not in present]
    with torch.serialization.safe_globals(ours):
        yield


_GLOBAL_IN_MESSAGE = re.compile(r'GLOBAL (\S+?)(?: was not| whose|$)')
_CLASS_IN_MESSAGE = re.compile(r"got <class '([^']+)'>")


def _global_in_message(message: str) -> List[str]:
    """The global named by torch's weights-only UnpicklingError."""
    for pattern in (_GLOBAL_IN_MESSAGE, _CLASS_IN_MESSAGE):
        match = pattern.search(message)
        if match:
            name = match.group(1)
            # torch writes builtins.open as "open"
            return [name if '.' in name else f'builtins.{name}']
    return []


def pickle_globals(data: bytes) -> List[str]:
    """Every global a pickle names, in order, without unpickling it.

    Reads the opcodes (``pickletools.genops``): ``GLOBAL`` (protocol <= 3,
    what ``torch.save`` writes) directly, ``STACK_GLOBAL`` (protocol >= 4)
    from the two strings before it (kept through the memo).
    """
    names: List[str] = []
    strings: List[Any] = []  # recent pushes that may be module / name
    memo: dict = {}
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name == 'GLOBAL':
                names.append(arg.replace(' ', '.', 1))
            elif op.name == 'STACK_GLOBAL' and len(strings) >= 2:
                names.append(f'{strings[-2]}.{strings[-1]}')
            elif 'UNICODE' in op.name:
                strings.append(arg)
            elif op.name == 'MEMOIZE' and strings:
                memo[len(memo)] = strings[-1]
            elif op.name in ('PUT', 'BINPUT', 'LONG_BINPUT') and strings:
                memo[arg] = strings[-1]
            elif op.name in ('GET', 'BINGET', 'LONG_BINGET'):
                strings.append(memo.get(arg))
            else:
                strings.append(None)
    except Exception:  # noqa: BLE001  a truncated pickle: what was read
        pass
    return list(dict.fromkeys(n for n in names if n))


def _checkpoint_pickle(path: str) -> Optional[bytes]:
    """The ``data.pkl`` of a ``torch.save`` zip file (None otherwise)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith('/data.pkl') or name == 'data.pkl':
                    return archive.read(name)
    except (zipfile.BadZipFile, OSError):
        pass
    return None


def _offending_globals(path: str, message: str) -> List[str]:
    """What a refused checkpoint needs: the global torch stopped at, then
    every other global it names that is not allowed."""
    found = _global_in_message(message)
    data = _checkpoint_pickle(path)
    if data is not None:
        try:
            with _allowed_for_checkpoints():
                found += torch.serialization.get_unsafe_globals_in_checkpoint(
                    path)
        except Exception:  # noqa: BLE001  not every file scans
            pass
        if not found:  # protocol >= 4: torch stops at STACK_GLOBAL
            allowed = {
                g[1] if isinstance(g, tuple) else
                f'{g.__module__}.{g.__qualname__}'
                for g in checkpoint_safe_globals()
            }
            found = [
                n for n in pickle_globals(data) if n not in allowed
                and not n.startswith(('torch.', 'collections.'))
            ]
    return list(dict.fromkeys(found))


def safe_load(path: str,
              map_location: Any = None,
              trust: Optional[bool] = None) -> Any:
    """Load a checkpoint with ``torch.load(weights_only=True)``.

    The globals of :func:`checkpoint_safe_globals` are allowed for this
    call only. ``~`` is expanded (as MMEngine's local loader does).

    Args:
        path (str): A local ``torch.save`` file.
        map_location: As in :func:`torch.load`. Defaults to None.
        trust (bool, optional): True unpickles fully
            (``weights_only=False``), False never does; None (default)
            follows the process setting (:func:`set_unsafe_load`, set from
            the config's ``unsafe_load`` by the tools).

    Returns:
        The loaded object.

    Raises:
        FileNotFoundError: ``path`` is not a file (MMEngine's message:
            ``'{path} can not be found.'``).
        UnsafePickleError: It needs another global (named), and it is not
            trusted.
    """
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    if _trusted(trust):
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        with _allowed_for_checkpoints():
            return torch.load(
                path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        message = str(err)
        # torch's own reason, without its advice to allow-list the global
        inner = message.split('WeightsUnpickler error:')[-1].strip()
        detail = inner.split('. ')[0].splitlines()[0] if inner else \
            'weights-only unpickling failed'
        if 'Unsupported operand' in inner:
            detail = ('it is a pickle protocol >= 4 file, which weights-only '
                      f'loading cannot read ({detail}); torch.save writes '
                      'protocol 2')
        raise UnsafePickleError(path, _offending_globals(path, message),
                                detail) from None


# ------------------------------------------------------------ numpy pickles
_NUMPY_ARRAY_GLOBALS = {
    # protocol <= 4: ndarray.__reduce__ -> _reconstruct(ndarray, shape, b)
    ('numpy._core.multiarray', '_reconstruct'): np._core.multiarray
    ._reconstruct,
    ('numpy.core.multiarray', '_reconstruct'): np._core.multiarray
    ._reconstruct,  # the name numpy 1.x wrote
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): np.dtype,
    # protocol 5: ndarray.__reduce_ex__ -> _frombuffer(buffer, dtype, ...)
    ('numpy._core.numeric', '_frombuffer'): np._core.numeric._frombuffer,
    ('numpy.core.numeric', '_frombuffer'): np._core.numeric._frombuffer,
    # protocol <= 2 writes the array bytes as _codecs.encode(str, 'latin1')
    ('_codecs', 'encode'): __import__('codecs').encode,
}


class _NumpyUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy array reconstruction."""

    def __init__(self, file: IO[bytes], path: str) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        allowed = _NUMPY_ARRAY_GLOBALS.get((module, name))
        if allowed is None:
            raise UnsafePickleError(
                self._path, [f'{module}.{name}'],
                'a pickled spectrogram may only hold numpy arrays',
                what='pickle')
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(self._path, [],
                                'it has a persistent id', what='pickle')


def load_numpy_pickle(path: Union[str, IO[bytes]],
                      trust: Optional[bool] = None) -> Any:
    """``pickle.load`` that can only rebuild numpy arrays.

    Allowed globals: ``numpy.ndarray``, ``numpy.dtype``,
    ``numpy._core.multiarray._reconstruct`` (protocols <= 4, also under its
    numpy 1.x name ``numpy.core.multiarray``),
    ``numpy._core.numeric._frombuffer`` (protocol 5) and ``_codecs.encode``
    (the bytes of protocols <= 2). Lists, dicts, numbers and strings need
    no global.

    Args:
        path (str | file): The pickle file (``~`` expanded), or an open
            binary file.
        trust (bool, optional): As in :func:`safe_load`.

    Raises:
        UnsafePickleError: It names any other global (named).
    """
    if isinstance(path, str):
        path = osp.expanduser(path)
        with open(path, 'rb') as f:
            return load_numpy_pickle(f, trust=trust)
    name = getattr(path, 'name', '<pickle>')
    if _trusted(trust):
        return pickle.load(path)
    return _NumpyUnpickler(path, str(name)).load()
