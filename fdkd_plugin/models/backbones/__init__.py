from .multi_frame_backbone import (FrameFolding, MultiFrameBackbone,
                                   average_frame_records, frame_mean,
                                   frames_per_clip)

__all__ = [
    'FrameFolding', 'MultiFrameBackbone', 'average_frame_records',
    'frame_mean', 'frames_per_clip'
]
