"""What a transform declares to the teacher cache's pipeline check
(:mod:`fdkd_plugin.models.algorithms.teacher_cache.pipeline_check`): the
results keys it writes and whether it draws at random, both as functions of
its config's arguments (or a built transform's attributes)."""
from typing import Callable, Optional, Tuple, Union

__all__ = ['declares']

Writes = Union[None, Tuple[str, ...], Callable[[dict], Optional[tuple]]]


def declares(writes: Writes = None,
             randomness: Optional[Callable[[dict], Optional[str]]] = None):
    """Class decorator: add ``cache_writes(args)`` and
    ``cache_randomness(args)`` class methods.

    Args:
        writes: The keys the transform writes: a tuple (``()`` for a
            packer), None for any key, or a function of the arguments.
        randomness: A function of the arguments that says why the output
            is random, or returns None; None: always deterministic.
    """

    def decorate(cls: type) -> type:

        def cache_writes(cls_, args: dict):
            return writes(args) if callable(writes) else writes

        def cache_randomness(cls_, args: dict) -> Optional[str]:
            return None if randomness is None else randomness(args)

        cls.cache_writes = classmethod(cache_writes)
        cls.cache_randomness = classmethod(cache_randomness)
        return cls

    return decorate
