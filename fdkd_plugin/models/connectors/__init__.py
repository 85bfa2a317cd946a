"""Connectors of FDKD, registered in ``fdkd.MODELS``."""
from .shared_head import SharedHead

__all__ = ['SharedHead']
