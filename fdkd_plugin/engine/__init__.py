from .selected_checkpoint_hook import SelectedCheckpointHook
from .loops import CrossModalTestLoop, CrossModalValLoop
from .model_wrappers import CPUDistributedDataParallel
from .checkpoint_io import AtomicLocalBackend  # registers the backend
from .non_finite_loss_hook import NonFiniteLossHook
from .data_model_check_hook import DataModelCheckHook  # noqa: F401
from .loss_gradient_hook import LossGradientHook
from .teacher_input_skip_hook import TeacherInputSkipHook
from .teardown import clean_exit

__all__ = [
    'CPUDistributedDataParallel', 'SelectedCheckpointHook',
    'CrossModalValLoop', 'CrossModalTestLoop', 'AtomicLocalBackend',
    'NonFiniteLossHook', 'LossGradientHook', 'TeacherInputSkipHook',
    'clean_exit'
]
