from .bidirectional_cross_modal_distill import BidirectionalCrossModalDistill
from .cross_modal_distill import CrossModalDistill
from .multi_teacher_distill import MultiTeacherDistill
from .teacher_cache import TeacherCache

__all__ = [
    'CrossModalDistill', 'BidirectionalCrossModalDistill',
    'MultiTeacherDistill', 'TeacherCache'
]
