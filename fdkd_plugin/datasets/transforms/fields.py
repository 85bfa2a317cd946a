"""What an image field of a paired sample is, and the helpers the paired
geometric transforms (:mod:`.geometry`) share.

A field named in ``results['modal_fields']`` is an image ``(H, W)`` or
``(H, W, C)``, or a frame stack ``(k, H, W, C)`` whose frames all get the
same operation.
"""
from typing import Callable, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    'Size', 'modal_fields', 'field_hw', 'keep_channels', 'per_image',
    'crop_field', 'size_arg'
]

Size = Tuple[int, int]


def modal_fields(results: dict) -> Tuple[str, ...]:
    """The image fields of a sample (``results['modal_fields']``)."""
    fields = tuple(results.get('modal_fields', ()))
    if not fields:
        raise KeyError('results hold no modal_fields; load the sample with '
                       'a loader that names its images (fdkd.LoadRGBD, '
                       'fdkd.LoadFrames) first')
    return fields


def field_hw(array: np.ndarray) -> Size:
    """``(H, W)`` of an image ``(H, W[, C])`` or a frame stack
    ``(k, H, W, C)``."""
    return tuple(array.shape[1:3] if array.ndim == 4 else array.shape[:2])


def keep_channels(img: np.ndarray, like: np.ndarray) -> np.ndarray:
    """cv2 drops a trailing channel axis of size 1: put it back."""
    if like.ndim == 3 and img.ndim == 2:
        img = img[..., None]
    return img


def per_image(array: np.ndarray,
              fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` on an image, or on each frame of a ``(k, H, W, C)`` stack."""
    if array.ndim == 4:
        return np.stack([keep_channels(fn(f), f) for f in array])
    return keep_channels(fn(array), array)


def crop_field(array: np.ndarray,
               box: Tuple[int, int, int, int]) -> np.ndarray:
    """``box = (y1, y2, x1, x2)`` out of an image or a frame stack."""
    y1, y2, x1, x2 = box
    if array.ndim == 4:
        return array[:, y1:y2, x1:x2]
    return array[y1:y2, x1:x2, ...]


def size_arg(value: Optional[Union[int, Sequence[int]]],
             name: str) -> Optional[Size]:
    """A size argument as ``(H, W)`` (an int is square), or None."""
    if value is None:
        return None
    if isinstance(value, int):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0
            for v in value):
        raise ValueError(f'{name}={value!r} must be None, a positive int '
                         'or an (H, W) pair of them')
    return value  # type: ignore[return-value]
