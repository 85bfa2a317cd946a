"""What a transform declares to the teacher cache's pipeline check
(:mod:`fdkd_plugin.models.algorithms.teacher_cache.pipeline_check`): the
results keys it writes, the image fields it adds to ``modal_fields`` (a
loader) and whether it draws at random, each as a function of its config's
arguments (or a built transform's attributes)."""
from typing import Callable, Optional, Tuple, Union

__all__ = ['declares', 'MODAL_FIELDS']

#: ``writes=MODAL_FIELDS``: the transform writes every image field that the
#: loaders before it put in ``results['modal_fields']`` (the paired
#: geometric transforms), so the check resolves it from those loaders.
MODAL_FIELDS = '<modal_fields>'

Keys = Union[None, str, Tuple[str, ...], Callable[[dict], Optional[tuple]]]


def _resolve(value: Keys, args: dict):
    return value(args) if callable(value) else value


def declares(writes: Keys = None,
             randomness: Optional[Callable[[dict], Optional[str]]] = None,
             fields: Keys = ()):
    """Class decorator: add ``cache_writes(args)``,
    ``cache_fields(args)`` and ``cache_randomness(args)`` class methods.

    Args:
        writes: The keys the transform writes: a tuple (``()`` for a
            packer), None for any key, :data:`MODAL_FIELDS` for the image
            fields loaded before it, or a function of the arguments.
        randomness: A function of the arguments that says why the output
            is random, or returns None; None: always deterministic.
        fields: The image fields a loader adds to ``modal_fields`` (a tuple
            or a function of the arguments). Defaults to none.
    """

    def decorate(cls: type) -> type:

        def cache_writes(cls_, args: dict):
            return _resolve(writes, args)

        def cache_fields(cls_, args: dict) -> Tuple[str, ...]:
            return tuple(_resolve(fields, args) or ())

        def cache_randomness(cls_, args: dict) -> Optional[str]:
            return None if randomness is None else randomness(args)

        cls.cache_writes = classmethod(cache_writes)
        cls.cache_fields = classmethod(cache_fields)
        cls.cache_randomness = classmethod(cache_randomness)
        return cls

    return decorate
