"""Feature distillation losses of FDKD, registered in ``fdkd.MODELS``."""
from .afd_loss import AFDLoss
from .c2kd_loss import C2KDLoss, kendall_tau
from .dkd_loss import DKDLoss, dkd_loss
from .dml_loss import DMLLoss, dml_loss
from .log_mse_loss import LogMSELoss, log_mse_loss
from .nkd_loss import NKDLoss, nkd_loss
from .std_mse_loss import StdMSELoss, std_mse_loss

__all__ = [
    'StdMSELoss', 'LogMSELoss', 'std_mse_loss', 'log_mse_loss', 'DKDLoss',
    'dkd_loss', 'DMLLoss', 'dml_loss', 'NKDLoss', 'nkd_loss', 'AFDLoss',
    'C2KDLoss', 'kendall_tau'
]
