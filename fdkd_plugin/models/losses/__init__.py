"""Feature distillation losses of FDKD, registered in ``fdkd.MODELS``."""
from .log_mse_loss import LogMSELoss, log_mse_loss
from .std_mse_loss import StdMSELoss, std_mse_loss

__all__ = ['StdMSELoss', 'LogMSELoss', 'std_mse_loss', 'log_mse_loss']
