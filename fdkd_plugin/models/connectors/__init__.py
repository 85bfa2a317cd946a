"""Connectors of FDKD, registered in ``fdkd.MODELS``."""
from .frame_mean import FrameMean
from .frame_mean_ofd_teacher import FrameMeanOFDTeacherConnector
from .shared_head import SharedHead

__all__ = ['FrameMean', 'FrameMeanOFDTeacherConnector', 'SharedHead']
