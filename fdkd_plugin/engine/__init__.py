from .selected_checkpoint_hook import SelectedCheckpointHook
from .loops import CrossModalTestLoop, CrossModalValLoop
from .model_wrappers import CPUDistributedDataParallel

__all__ = [
    'CPUDistributedDataParallel', 'SelectedCheckpointHook',
    'CrossModalValLoop', 'CrossModalTestLoop'
]
