from .multi_frame_backbone import MultiFrameBackbone

__all__ = ['MultiFrameBackbone']
