"""Paired geometric transforms: one random draw per sample, applied to every
image field of it (in the spirit of mmcv's ``TransformBroadcaster``).

A paired sample holds several images that must see the *same* resize, crop
and flip: RGB and depth with their label map (NYU-Depth V2), or the ``k``
frames of a clip (the audio-visual data sets). The loaders name the image
fields in ``results['modal_fields']`` (``fdkd.LoadRGBD``: ``'rgb'``,
``'depth'``; ``fdkd.LoadFrames``: ``'visual'``), and mmseg's
``LoadAnnotations`` names the label maps in ``results['seg_fields']``. A
field is

- an image ``(H, W)`` or ``(H, W, C)`` (uint8 RGB, float32 depth), or
- a frame stack ``(k, H, W, C)``: every frame gets the same operation.

The transforms here draw their parameters once (``np.random``, which
MMEngine seeds per worker) and apply them to every field; label maps always
use nearest-neighbour resizing. The pixel work is mmcv's (``imresize``,
``imflip``); the crop draws are mmseg's ``RandomCrop`` (``cat_max_ratio``)
and mmpretrain's ``RandomResizedCrop``. Images stay uint8 here:
normalization happens on the batch, in ``fdkd.MultiModalDataPreprocessor``
(``norm_cfg``), and so does padding (``pad_to``).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from fdkd_plugin.registry import TRANSFORMS
from .declare import MODAL_FIELDS, declares
from .fields import (Size, crop_field, field_hw, modal_fields, per_image,
                     size_arg)

__all__ = [
    'MultiModalResize', 'MultiModalRandomResize', 'MultiModalRandomCrop',
    'MultiModalRandomResizedCrop', 'MultiModalRandomFlip'
]


def _hw(results: dict) -> Size:
    """The (H, W) all fields of a sample share now."""
    return field_hw(results[modal_fields(results)[0]])


def _resize_all(results: dict, size_wh: Size,
                interpolations: Dict[str, str]) -> None:
    """Resize every field and label map to ``size_wh = (W, H)``."""
    for name in modal_fields(results):
        mode = interpolations.get(name, 'bilinear')
        results[name] = per_image(
            results[name],
            lambda img: mmcv.imresize(img, size_wh, interpolation=mode))
    for key in results.get('seg_fields', []):
        results[key] = mmcv.imresize(
            results[key], size_wh, interpolation='nearest')
    results['img_shape'] = (size_wh[1], size_wh[0])


def _crop_all(results: dict, box: Tuple[int, int, int, int]) -> None:
    """Crop every field and label map to ``box = (y1, y2, x1, x2)``."""
    for key in (*modal_fields(results), *results.get('seg_fields', [])):
        results[key] = crop_field(results[key], box)
    results['img_shape'] = (box[1] - box[0], box[3] - box[2])
    results['crop_bbox'] = box


def _interpolations(value: Optional[Dict[str, str]]) -> Dict[str, str]:
    """Per-field interpolation; depth defaults to nearest, which keeps
    object edges sharp instead of inventing depths between surfaces."""
    return dict(depth='nearest') if value is None else dict(value)


def _resize_random(args: dict) -> Optional[str]:
    """A random scale unless ``ratio_range`` is one value."""
    lo, hi = args.get('ratio_range', (0.5, 2.0))
    return None if lo == hi else f'a random scale in [{lo}, {hi}]'


def _crop_random(args: dict) -> Optional[str]:
    """A random crop window (smaller than the image, or not)."""
    size = args.get('crop_size')
    return f'a random crop window of {size or "the loaded size"}'


def _resized_crop_random(args: dict) -> Optional[str]:
    """A random crop box (area and aspect ratio)."""
    return 'a random crop box (area fraction and aspect ratio)'


def _flip_random(args: dict) -> Optional[str]:
    """A flip drawn with ``prob``."""
    prob = args.get('prob', 0.5)
    return f'a flip drawn with prob={prob}' if prob > 0 else None


@TRANSFORMS.register_module()
@declares(writes=MODAL_FIELDS)
class MultiModalResize(BaseTransform):
    """Resize every field and label map to one fixed size (test pipelines).

    Updated keys: the fields, ``seg_fields`` maps, ``'img_shape'``.

    Args:
        scale (int | tuple[int, int]): Output ``(H, W)`` (``s``: square).
        interpolations (dict, optional): ``{field: mode}``. Defaults to
            ``{'depth': 'nearest'}`` (others bilinear: ``cv2.INTER_LINEAR``).
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 interpolations: Optional[Dict[str, str]] = None) -> None:
        super().__init__()
        self.scale = size_arg(scale, 'scale')
        if self.scale is None:
            raise ValueError('scale must be a positive int or (H, W)')
        self.interpolations = _interpolations(interpolations)

    def transform(self, results: dict) -> dict:
        """Resize all fields of the sample to ``scale``."""
        _resize_all(results, (self.scale[1], self.scale[0]),
                    self.interpolations)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'interpolations={self.interpolations})')


@TRANSFORMS.register_module()
@declares(writes=MODAL_FIELDS, randomness=_resize_random)
class MultiModalRandomResize(BaseTransform):
    """Rescale every field and label map by one random factor.

    ``r ~ U(ratio_range)`` once per sample; every map of ``(H, W)`` becomes
    ``(round(r * H), round(r * W))`` (``mmcv.imresize``). For NYU's 480x640
    images that is mmseg's ``RandomResize(scale=(640, 480),
    ratio_range=..., keep_ratio=True)``; being relative to the loaded size it
    works unchanged on any image size.

    Updated keys: the fields, ``seg_fields`` maps, ``'img_shape'``;
    added: ``'scale_factor'`` ``(r_w, r_h)``.

    Args:
        ratio_range (tuple[float, float]): bounds of ``r``, ``0 < lo <= hi``.
            Defaults to ``(0.5, 2.0)``.
        interpolations (dict, optional): ``{field: mode}``. Defaults to
            ``{'depth': 'nearest'}`` (others bilinear).
    """

    def __init__(self,
                 ratio_range: Tuple[float, float] = (0.5, 2.0),
                 interpolations: Optional[Dict[str, str]] = None) -> None:
        super().__init__()
        lo, hi = (float(v) for v in ratio_range)
        if not 0 < lo <= hi:
            raise ValueError(f'ratio_range={tuple(ratio_range)!r} must have '
                             '0 < low <= high')
        self.ratio_range = (lo, hi)
        self.interpolations = _interpolations(interpolations)

    def _ratio(self) -> float:
        lo, hi = self.ratio_range
        return float(np.random.uniform(lo, hi)) if hi > lo else lo

    def transform(self, results: dict) -> dict:
        """Rescale all fields of the sample by one random ratio."""
        h, w = _hw(results)
        r = self._ratio()
        size = (max(1, int(round(w * r))), max(1, int(round(h * r))))  # W, H
        _resize_all(results, size, self.interpolations)
        results['scale_factor'] = (size[0] / w, size[1] / h)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ratio_range={self.ratio_range}, '
                f'interpolations={self.interpolations})')


@TRANSFORMS.register_module()
@declares(writes=MODAL_FIELDS, randomness=_crop_random)
class MultiModalRandomCrop(BaseTransform):
    """Crop the same random window out of every field and label map.

    The window is ``crop_size`` (or the map itself where that is smaller),
    at a uniform random offset. As in mmseg's ``RandomCrop``, with
    ``cat_max_ratio < 1`` up to 10 windows are drawn until no single class
    covers more than ``cat_max_ratio`` of the window's labeled pixels (label
    ``ignore_index`` does not count) and at least two classes are present;
    otherwise the last draw is kept.

    Updated keys: the fields, ``seg_fields`` maps, ``'img_shape'``;
    added: ``'crop_bbox'`` ``(y1, y2, x1, x2)``.

    Args:
        crop_size (int | tuple[int, int], optional): ``(H, W)``. Defaults to
            None: the sample's loaded size ``results['ori_shape']``, so a
            rescaled image is cropped back to its original resolution.
        cat_max_ratio (float): see above; 1 turns the check off. Defaults
            to 1.
        ignore_index (int): the void label. Defaults to 255.
        seg_key (str): the label map the check reads. Defaults to
            ``'gt_seg_map'``.
    """

    def __init__(self,
                 crop_size: Optional[Union[int, Sequence[int]]] = None,
                 cat_max_ratio: float = 1.0,
                 ignore_index: int = 255,
                 seg_key: str = 'gt_seg_map') -> None:
        super().__init__()
        self.crop_size = size_arg(crop_size, 'crop_size')
        if not 0 < cat_max_ratio <= 1:
            raise ValueError(f'cat_max_ratio={cat_max_ratio} must be in '
                             '(0, 1]')
        self.cat_max_ratio = float(cat_max_ratio)
        self.ignore_index = ignore_index
        self.seg_key = seg_key

    @staticmethod
    def _draw(hw: Size, crop: Size) -> Tuple[int, int, int, int]:
        ch, cw = min(crop[0], hw[0]), min(crop[1], hw[1])
        y1 = int(np.random.randint(0, hw[0] - ch + 1))
        x1 = int(np.random.randint(0, hw[1] - cw + 1))
        return y1, y1 + ch, x1, x1 + cw

    def _balanced(self, seg: np.ndarray,
                  box: Tuple[int, int, int, int]) -> bool:
        labels, counts = np.unique(crop_field(seg, box), return_counts=True)
        counts = counts[labels != self.ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() \
            < self.cat_max_ratio

    def transform(self, results: dict) -> dict:
        """Crop every field of the sample with one random window."""
        hw = _hw(results)
        crop = self.crop_size or tuple(results['ori_shape'])
        box = self._draw(hw, crop)
        seg = results.get(self.seg_key)
        if self.cat_max_ratio < 1 and seg is not None:
            for _ in range(10):
                if self._balanced(seg, box):
                    break
                box = self._draw(hw, crop)
        _crop_all(results, box)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_size={self.crop_size}, '
                f'cat_max_ratio={self.cat_max_ratio}, '
                f'ignore_index={self.ignore_index})')


@TRANSFORMS.register_module()
@declares(writes=MODAL_FIELDS, randomness=_resized_crop_random)
class MultiModalRandomResizedCrop(BaseTransform):
    """One random-resized-crop box per sample, for every field.

    The box is drawn by mmpretrain's ``RandomResizedCrop`` (area fraction in
    ``crop_scale``, aspect ratio w / h in ``crop_ratio``, log-uniform; up to
    10 tries, then the largest centred box of a valid ratio), from the
    sample's ``(H, W)``; every field (all frames of a stack) and label map is
    cropped to it and resized to ``scale``.

    Updated keys: the fields, ``seg_fields`` maps, ``'img_shape'``;
    added: ``'crop_bbox'`` ``(y1, y2, x1, x2)`` in source pixels.

    Args:
        scale (int | tuple[int, int]): Output ``(H, W)`` (``s``: square).
        crop_scale (tuple[float, float]): Range of the box's area fraction,
            ``0 < min <= max <= 1``. Defaults to (0.08, 1.0).
        crop_ratio (tuple[float, float]): Range of its aspect ratio w / h.
            Defaults to (3 / 4, 4 / 3).
        interpolations (dict, optional): ``{field: mode}``. Defaults to
            ``{'depth': 'nearest'}`` (others bilinear).
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 crop_scale: Sequence[float] = (0.08, 1.0),
                 crop_ratio: Sequence[float] = (3. / 4., 4. / 3.),
                 interpolations: Optional[Dict[str, str]] = None) -> None:
        super().__init__()
        self.scale = size_arg(scale, 'scale')
        if self.scale is None:
            raise ValueError('scale must be a positive int or (H, W)')
        crop_scale = tuple(float(x) for x in crop_scale)
        if len(crop_scale) != 2 or not 0 < crop_scale[0] <= crop_scale[1] \
                or crop_scale[1] > 1:
            raise ValueError(f'crop_scale={crop_scale} must satisfy '
                             '0 < min <= max <= 1')
        crop_ratio = tuple(float(x) for x in crop_ratio)
        if len(crop_ratio) != 2 or not 0 < crop_ratio[0] <= crop_ratio[1]:
            raise ValueError(f'crop_ratio={crop_ratio} must satisfy '
                             '0 < min <= max')
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.interpolations = _interpolations(interpolations)
        # the host's box sampler (its resize settings are unused)
        from mmpretrain.datasets.transforms import RandomResizedCrop
        self._sampler = RandomResizedCrop(
            scale=self.scale,
            crop_ratio_range=self.crop_scale,
            aspect_ratio_range=self.crop_ratio)

    def transform(self, results: dict) -> dict:
        """Crop and resize every field of the sample with one box."""
        first = results[modal_fields(results)[0]]
        image = first[0] if first.ndim == 4 else first
        top, left, h, w = (int(v)
                           for v in self._sampler.rand_crop_params(image))
        _crop_all(results, (top, top + h, left, left + w))
        _resize_all(results, (self.scale[1], self.scale[0]),
                    self.interpolations)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'crop_scale={self.crop_scale}, '
                f'crop_ratio={self.crop_ratio}, '
                f'interpolations={self.interpolations})')


@TRANSFORMS.register_module()
@declares(writes=MODAL_FIELDS, randomness=_flip_random)
class MultiModalRandomFlip(BaseTransform):
    """Flip every field and label map together, with probability ``prob``.

    The flip is drawn (``np.random.rand() < prob``) on every call, also with
    ``prob=0``, so a pipeline's later draws do not depend on ``prob``.

    Added keys: ``'flip'`` (bool) and ``'flip_direction'`` (str or None).

    Args:
        prob (float): flip probability in [0, 1]. Defaults to 0.5.
        direction (str): ``'horizontal'`` (default) or ``'vertical'``.
    """

    def __init__(self, prob: float = 0.5,
                 direction: str = 'horizontal') -> None:
        super().__init__()
        if not 0 <= prob <= 1:
            raise ValueError(f'prob={prob} must be in [0, 1]')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f'direction={direction!r} must be horizontal '
                             'or vertical')
        self.prob = float(prob)
        self.direction = direction

    def transform(self, results: dict) -> dict:
        """Flip all fields of the sample, or none."""
        flip = bool(np.random.rand() < self.prob)
        if flip:
            for key in modal_fields(results):
                results[key] = np.ascontiguousarray(
                    per_image(
                        results[key],
                        lambda img: mmcv.imflip(img, self.direction)))
            for key in results.get('seg_fields', []):
                results[key] = np.ascontiguousarray(
                    mmcv.imflip(results[key], direction=self.direction))
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')
