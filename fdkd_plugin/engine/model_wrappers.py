"""A DDP wrapper that also works for CPU modules (``torchrun`` + gloo).

MMEngine passes ``device_ids=[LOCAL_RANK]`` to every DDP wrapper it builds;
``DistributedDataParallel`` refuses ``device_ids`` for a module on the CPU.
This wrapper drops them there, and keeps them on a GPU. See
:mod:`fdkd_plugin.compat` (fix 3).
"""
from typing import Any, Optional, Sequence

import torch.nn as nn
from mmengine.model import MMDistributedDataParallel

from fdkd_plugin.registry import MODEL_WRAPPERS

__all__ = ['CPUDistributedDataParallel']


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` that accepts CPU modules.

    Args:
        module (nn.Module): The model to wrap.
        device_ids (Sequence[int], optional): Passed on only when the module
            has parameters on a CUDA device.
        **kwargs: Other arguments of ``MMDistributedDataParallel``.
    """

    def __init__(self,
                 module: nn.Module,
                 device_ids: Optional[Sequence[int]] = None,
                 **kwargs: Any) -> None:
        param = next(module.parameters(), None)
        if param is None or param.device.type == 'cpu':
            device_ids = None
            kwargs.pop('output_device', None)
        super().__init__(module=module, device_ids=device_ids, **kwargs)
