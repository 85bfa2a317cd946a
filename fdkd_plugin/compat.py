"""Run-time compatibility fixes between the pinned host packages.

Each fix exists because a pinned host package (mmrazor 1.0.0, mmengine
0.10.7) predates torch 2.14. Nothing installed is edited: the fixes patch at
run time, are idempotent, and are applied by ``import fdkd_plugin``. Each has a
test in ``tests/test_compat.py`` that reproduces the original failure without
the fix, so the test fails (and says which fix to delete) on the day a host
release makes the fix unnecessary.

1. :func:`patch_torch_ao_for_mmrazor` - ``import mmrazor.models`` raises
   ``ImportError: torch>=1.13 is not installed properly`` (mmrazor #615):
   its quantization code imports names torch has since made private.
2. :func:`register_safe_checkpoint_loader` - ``--resume`` fails with
   ``UnpicklingError: Weights only load failed ... HistoryBuffer``: torch >= 2.6
   loads with ``weights_only=True`` and MMEngine checkpoints hold message-hub
   state (HistoryBuffer, numpy arrays). The fix keeps ``weights_only=True``
   and allow-lists exactly those globals
   (:func:`fdkd_plugin.utils.checkpoint.safe_load`); anything else is
   refused unless the run trusts its checkpoints (``--unsafe-load``).
3. :func:`patch_mmrazor_inplace_false` - MMRazor algorithms switch every
   ``inplace`` activation of the student and teacher to ``inplace=False`` so
   that recorders keep pre-activation values, but its recursion only
   descends through ``OrderedDict`` and torch 2.14 stores
   ``Module._modules`` in a plain ``dict``: nothing is switched, and an
   in-place ReLU overwrites what a ``ModuleInputs`` recorder holds (the
   "pre-ReLU" feature of paper A.3 silently becomes the post-ReLU one).
4. :func:`init_cpu_distributed` and :class:`CPUDistributedDataParallel`
   (in :mod:`fdkd_plugin.engine.model_wrappers`) - ``torchrun`` on a machine
   without CUDA: MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` and
   its DDP wrapper passes ``device_ids=[local_rank]``, which DDP refuses for
   CPU modules.
5. :func:`patch_config_format_cache` - speed, not a failure: MMEngine
   formats the whole config with yapf every time it logs it, dumps it and
   saves a checkpoint (the checkpoint's ``meta.cfg``), 1.5-2.5 s each on a
   2-core CPU for an AV-digits config. A 1-epoch run formatted the same
   text 7 times (19.5 of its 29.4 s under cProfile); a 12-epoch run saves
   about 20 checkpoints. The fix remembers the formatted text of the last
   few inputs: the same text in gives the same text out, so logs, dumps and
   checkpoints are byte-identical and only the first formatting of a config
   costs anything.
"""
import functools
import os
from collections import OrderedDict
from typing import Any, Callable, Optional

import torch

__all__ = [
    'patch_torch_ao_for_mmrazor', 'register_safe_checkpoint_loader',
    'patch_mmrazor_inplace_false', 'set_inplace_false',
    'init_cpu_distributed', 'patch_config_format_cache', 'apply_all'
]

# names mmrazor imports from torch.ao.quantization.fuser_method_mappings;
# torch now spells them with a leading underscore, and has dropped the
# composition reverse_sequential_wrapper2 = reverse2 . sequential_wrapper2
_FUSER_ALIASES = ('reverse2', 'reverse3')
# private builder methods mmrazor calls on BackendPatternConfig at import time
# (only for its quantization backends, which fdkd does not use)
_BACKEND_PATTERN_SETTERS = ('_set_overwrite_output_fake_quantize',
                            '_set_overwrite_output_observer',
                            '_set_input_output_observed')


def _return_self(self: Any, *args: Any, **kwargs: Any) -> Any:
    """A no-op chained setter: the builder pattern expects ``self`` back."""
    return self


def patch_torch_ao_for_mmrazor() -> bool:
    """Make ``import mmrazor.models`` work on torch 2.14.

    Aliases the renamed fuser helpers (and rebuilds the dropped
    ``reverse_sequential_wrapper2`` from them), imports
    ``torch.ao.quantization.backend_config.utils`` (mmrazor reaches it as an
    attribute) and adds no-op versions of three removed private setters of
    ``BackendPatternConfig``. mmrazor's quantization is left unusable; its
    distillation path is unaffected.

    Returns:
        bool: True if anything had to be patched.
    """
    import torch.ao.quantization.backend_config.utils  # noqa: F401
    import torch.ao.quantization.fuser_method_mappings as fuser
    from torch.ao.quantization.backend_config import BackendPatternConfig

    patched = False
    for name in _FUSER_ALIASES:
        if not hasattr(fuser, name) and hasattr(fuser, '_' + name):
            setattr(fuser, name, getattr(fuser, '_' + name))
            patched = True
    if not hasattr(fuser, 'reverse_sequential_wrapper2'):

        def reverse_sequential_wrapper2(sequential: Any) -> Callable:
            # the fuser for (b, a) that builds ``sequential(a, b)``
            return fuser.reverse2(fuser._sequential_wrapper2(sequential))

        fuser.reverse_sequential_wrapper2 = reverse_sequential_wrapper2
        patched = True
    for name in _BACKEND_PATTERN_SETTERS:
        if not hasattr(BackendPatternConfig, name):
            setattr(BackendPatternConfig, name, _return_self)
            patched = True
    return patched


def load_from_local_safe(filename: str,
                         map_location: Optional[Any] = None) -> Any:
    """MMEngine's local-file loader (``~`` expanded, ``FileNotFoundError``
    for a missing file) through
    :func:`fdkd_plugin.utils.checkpoint.safe_load`."""
    from fdkd_plugin.utils.checkpoint import safe_load
    return safe_load(filename, map_location=map_location)


def register_safe_checkpoint_loader() -> Callable:
    """Let MMEngine load its own checkpoints (resume, ``load_from``,
    ``teacher_ckpt``) without unpickling anything else.

    Re-registers MMEngine's local-file ``CheckpointLoader`` scheme (prefix
    ``''``, which every ``load_checkpoint`` / ``Runner.resume`` of a local
    path goes through) with :func:`load_from_local_safe`. Idempotent.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    loader = CheckpointLoader._schemes.get('')
    if loader is not load_from_local_safe:
        CheckpointLoader.register_scheme(
            prefixes='', loader=load_from_local_safe, force=True)
    return load_from_local_safe


def set_inplace_false(module: torch.nn.Module) -> int:
    """Set ``inplace=False`` on every sub-module that has a bool
    ``inplace`` attribute (``nn.ReLU``, ``nn.ReLU6``, ``nn.Dropout``, mmcv's
    ``ConvModule`` and the activation inside it ...), at any depth.

    Returns:
        int: how many modules were switched from True.
    """
    switched = 0
    for sub in module.modules():
        if isinstance(getattr(sub, 'inplace', None), bool):
            switched += int(sub.inplace)
            sub.inplace = False
    return switched


_mmrazor_set_module_inplace_false: Optional[Callable] = None


def _set_module_inplace_false(self: Any, architecture: Any,
                              varstr: str = '') -> None:
    """Replacement of ``BaseAlgorithm.set_module_inplace_false``."""
    if isinstance(architecture, torch.nn.Module):
        set_inplace_false(architecture)


def patch_mmrazor_inplace_false() -> bool:
    """Make MMRazor's ``inplace=False`` switch reach every module again.

    ``BaseAlgorithm.__init__`` (student, unless ``module_inplace=True``) and
    ``SingleTeacherDistill.__init__`` (teacher) call
    ``set_module_inplace_false``; it is replaced by
    :func:`set_inplace_false`. Idempotent.

    Returns:
        bool: True if this call patched it.
    """
    from mmrazor.models.algorithms.base import BaseAlgorithm
    global _mmrazor_set_module_inplace_false
    if BaseAlgorithm.set_module_inplace_false is _set_module_inplace_false:
        return False
    # kept for the test that shows the fix is still needed
    _mmrazor_set_module_inplace_false = BaseAlgorithm.set_module_inplace_false
    BaseAlgorithm.set_module_inplace_false = _set_module_inplace_false
    return True


def init_cpu_distributed(launcher: str, backend: str = 'gloo') -> bool:
    """Initialise the process group for ``torchrun`` on a CPU-only machine.

    MMEngine's ``init_dist`` would call ``torch.cuda.set_device``; with the
    group already initialised it skips its own set-up. Call before building
    the :class:`~mmengine.runner.Runner`.

    Args:
        launcher (str): The ``--launcher`` of the run; only ``'pytorch'``
            (torchrun) is handled here.
        backend (str): Process-group backend. Defaults to ``'gloo'``.

    Returns:
        bool: True if this call initialised the group.
    """
    import torch.distributed as dist
    if (launcher != 'pytorch' or torch.cuda.is_available()
            or not dist.is_available() or dist.is_initialized()):
        return False
    dist.init_process_group(
        backend=backend,
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']))
    return True


# configs formatted per process that are remembered; one run formats one or
# two (the config, and the teacher's when it is read), a test session many
_FORMAT_CACHE_SIZE = 16


def _frozen(value: Any) -> Any:
    """A hashable stand-in for ``value`` (dicts by their sorted items)."""
    if isinstance(value, dict):
        return ('dict', tuple(sorted((k, _frozen(v)) for k, v in
                                     value.items())))
    return value


def _memoized_format_code(format_code: Callable) -> Callable:
    """``format_code`` (yapf's ``FormatCode``) remembering its results.

    The key is everything the result depends on: the unformatted text and
    the other arguments (the yapf style). A call that raises is not
    remembered, nor one whose arguments cannot be hashed. yapf returns
    ``(text, changed)``, a tuple of immutables, so the same object can be
    handed out again. The last :data:`_FORMAT_CACHE_SIZE` inputs are kept.
    """
    cache: 'OrderedDict[tuple, Any]' = OrderedDict()

    @functools.wraps(format_code)
    def wrapper(text: str, *args: Any, **kwargs: Any) -> Any:
        try:
            key = (text, args, _frozen(kwargs))
            hash(key)
        except TypeError:
            return format_code(text, *args, **kwargs)
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        result = format_code(text, *args, **kwargs)
        cache[key] = result
        while len(cache) > _FORMAT_CACHE_SIZE:
            cache.popitem(last=False)
        return result

    wrapper.__wrapped_format_code__ = format_code
    wrapper.cache = cache
    return wrapper


def patch_config_format_cache() -> bool:
    """Format each distinct config text with yapf once per process.

    Replaces the ``FormatCode`` that ``mmengine.config.config`` imported
    (what ``Config.pretty_text`` calls) by :func:`_memoized_format_code`.
    Idempotent.

    Returns:
        bool: True if this call patched it.
    """
    import mmengine.config.config as config_module
    if hasattr(config_module.FormatCode, '__wrapped_format_code__'):
        return False
    config_module.FormatCode = _memoized_format_code(config_module.FormatCode)
    return True


def apply_all() -> None:
    """Apply the import-time fixes (1 to 3, 5); 4 is applied by the tools."""
    patch_torch_ao_for_mmrazor()
    register_safe_checkpoint_loader()
    patch_mmrazor_inplace_false()
    patch_config_format_cache()
