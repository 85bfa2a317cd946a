"""Transforms of paired RGB-D segmentation pipelines (NYU-Depth V2).

MMSegmentation's geometric transforms move ``results['img']`` and the label
maps of ``results['seg_fields']`` together, but a paired sample has two
images (``'rgb'`` and ``'depth'``) that must see the *same* random resize,
crop and flip as the label. The transforms here act on every modality named
in ``results['modal_fields']`` (filled by :class:`LoadRGBD`, like mmseg's
``seg_fields``) and on every map in ``results['seg_fields']`` (filled by
``mmseg.LoadAnnotations``), drawing their random parameters once per
sample. The pixel work is done by mmcv's functions (``imrescale``,
``imflip``, ``impad``); the crop draw follows mmseg's ``RandomCrop``
(``cat_max_ratio``).

A training pipeline (the paper's augmentation: random HSV on RGB, random
flip; the same random crop for all three maps)::

    dict(type='fdkd.LoadRGBD', depth_encoding='log'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='fdkd.MultiModalRandomResize', ratio_range=(0.5, 2.0)),
    dict(type='fdkd.MultiModalRandomCrop', cat_max_ratio=0.75),
    dict(type='fdkd.MultiModalRandomFlip', prob=0.5),
    dict(type='fdkd.RandomHSV'),
    dict(type='fdkd.MultiModalNormalize', norm_cfg=...),
    dict(type='fdkd.MultiModalPad'),
    dict(type='fdkd.PackMultiModalSegInputs', modalities=('rgb', 'depth')),

Normalization happens in the pipeline (:class:`MultiModalNormalize`), as for
the audio-visual data sets, so ``fdkd.MultiModalDataPreprocessor`` only
stacks the batch; crop and pad give every training sample the loaded size,
so the batch stacks without a padding pre-processor. Randomness comes from
``np.random``, which MMEngine seeds per worker.
"""
import math
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from fdkd_plugin.registry import TRANSFORMS
from .declare import declares

__all__ = [
    'DEPTH_ENCODINGS', 'encode_depth', 'LoadRGBD', 'MultiModalRandomResize',
    'MultiModalRandomCrop', 'MultiModalRandomFlip', 'RandomHSV',
    'MultiModalNormalize', 'MultiModalPad', 'PackMultiModalSegInputs'
]

#: Depth encodings of :class:`LoadRGBD`.
DEPTH_ENCODINGS: Tuple[str, ...] = ('log', 'metric', 'hha')
#: Modalities :class:`LoadRGBD` can load.
RGBD_MODALITIES: Tuple[str, ...] = ('rgb', 'depth')

Size = Tuple[int, int]


def encode_depth(depth_m: np.ndarray,
                 encoding: str = 'log',
                 max_depth: float = 10.0) -> np.ndarray:
    """Map metric depth to [0, 1], the 1-channel input of a depth network.

    - ``'log'``: ``log(1 + d) / log(1 + max_depth)``; finer steps near the
      camera (1.5-5 m map to 0.38-0.75 with ``max_depth = 10``).
    - ``'metric'``: ``d / max_depth``, linear in metres.

    Both are clipped to [0, 1]; a missing depth (0) stays 0. For NYU,
    ``max_depth = 10`` m is the range of the labeled depth maps.

    Args:
        depth_m (np.ndarray): ``(H, W)`` depth in metres.
        encoding (str): ``'log'`` or ``'metric'``. Defaults to ``'log'``.
        max_depth (float): metres mapped to 1. Defaults to 10.

    Returns:
        np.ndarray: float32 ``(H, W)`` in [0, 1].
    """
    if encoding not in ('log', 'metric'):
        raise ValueError(f'encoding={encoding!r} must be log or metric')
    d = np.clip(depth_m.astype(np.float32), 0, None)
    if encoding == 'log':
        out = np.log1p(d) / np.float32(math.log1p(max_depth))
    else:
        out = d / np.float32(max_depth)
    return np.clip(out, 0, 1).astype(np.float32)


def _modal_fields(results: dict) -> Tuple[str, ...]:
    fields = tuple(results.get('modal_fields', ()))
    if not fields:
        raise KeyError('results hold no modal_fields; load the sample with '
                       'fdkd.LoadRGBD first')
    return fields


def _hw(results: dict) -> Size:
    """The (H, W) all maps share now."""
    return tuple(results[_modal_fields(results)[0]].shape[:2])


def _size_arg(value: Optional[Union[int, Sequence[int]]],
              name: str) -> Optional[Size]:
    if value is None:
        return None
    if isinstance(value, int):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v > 0
                                  for v in value):
        raise ValueError(f'{name}={value!r} must be None, a positive int '
                         'or an (H, W) pair of them')
    return value  # type: ignore[return-value]


def _keep_channels(img: np.ndarray, like: np.ndarray) -> np.ndarray:
    """cv2 drops a trailing channel axis of size 1: put it back."""
    if like.ndim == 3 and img.ndim == 2:
        img = img[..., None]
    return img


def _resize_random(args: dict) -> Optional[str]:
    """A random scale unless ``ratio_range`` is one value."""
    lo, hi = args.get('ratio_range', (0.5, 2.0))
    return None if lo == hi else f'a random scale in [{lo}, {hi}]'


def _crop_random(args: dict) -> Optional[str]:
    """A random crop box when ``crop_size`` is set."""
    size = args.get('crop_size')
    return None if size is None else f'a random crop box of {size}'


def _flip_random(args: dict) -> Optional[str]:
    """A flip drawn with ``prob``."""
    prob = args.get('prob', 0.5)
    return f'a flip drawn with prob={prob}' if prob > 0 else None


def _hsv_random(args: dict) -> Optional[str]:
    """Random hue, saturation and value, drawn with ``prob``."""
    prob = args.get('prob', 1.0)
    return f'random HSV changes with prob={prob}' if prob > 0 else None


@TRANSFORMS.register_module()
@declares(writes=None)
class LoadRGBD(BaseTransform):
    """Read the RGB image and the depth map of a sample.

    Reads ``results['rgb_path']`` and ``results['depth_path']`` (set by
    :class:`~fdkd_plugin.datasets.NYUDepthV2Dataset`) for each name in
    ``modalities``:

    - ``'rgb'``: uint8 ``(H, W, 3)`` in RGB order.
    - ``'depth'``: float32 ``(H, W, C)``. From a 16-bit PNG in millimetres
      (``depth_scale`` units per metre), encoded by :func:`encode_depth`
      (``'log'`` or ``'metric'``, ``C = 1``, values in [0, 1]); or with
      ``depth_encoding='hha'`` a pre-computed 3-channel HHA image (8 bit,
      channels in the file's order) divided by 255 (``C = 3``).

    Added keys: the modalities, ``'modal_fields'`` (their names, which the
    ``MultiModal*`` transforms act on), ``'img_shape'`` and ``'ori_shape'``
    (``(H, W)``).

    Args:
        modalities (Sequence[str]): a non-empty subset of ``('rgb',
            'depth')``. Defaults to both.
        depth_encoding (str): ``'log'`` (default), ``'metric'`` or ``'hha'``.
        max_depth (float): metres mapped to 1 by ``'log'`` / ``'metric'``.
            Defaults to 10.
        depth_scale (float): PNG units per metre. Defaults to 1000 (mm).

    Raises:
        FileNotFoundError / ValueError: naming the file that is missing, not
            an image, not 16 bit, or of another size than its pair.
    """

    def __init__(self,
                 modalities: Sequence[str] = RGBD_MODALITIES,
                 depth_encoding: str = 'log',
                 max_depth: float = 10.0,
                 depth_scale: float = 1000.0) -> None:
        super().__init__()
        modalities = (modalities, ) if isinstance(modalities,
                                                  str) else tuple(modalities)
        if not modalities or len(set(modalities)) != len(modalities) or any(
                m not in RGBD_MODALITIES for m in modalities):
            raise ValueError(f'modalities={modalities!r} must be a non-empty '
                             f'subset of {RGBD_MODALITIES} without duplicates')
        if depth_encoding not in DEPTH_ENCODINGS:
            raise ValueError(f'depth_encoding={depth_encoding!r} must be one '
                             f'of {DEPTH_ENCODINGS}')
        for name, value in (('max_depth', max_depth), ('depth_scale',
                                                       depth_scale)):
            if not value > 0:
                raise ValueError(f'{name}={value!r} must be > 0')
        self.modalities = modalities
        self.depth_encoding = depth_encoding
        self.max_depth = float(max_depth)
        self.depth_scale = float(depth_scale)

    @staticmethod
    def _read(path: str, flag: int) -> np.ndarray:
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} does not exist')
        if osp.getsize(path) == 0:
            raise ValueError(f'{path} is empty (0 bytes); convert again with '
                             'tools/dataset_converters/nyu_depth_v2.py '
                             '--overwrite')
        img = cv2.imread(path, flag)
        if img is None:
            raise ValueError(f'{path} is not an image cv2 can read (cut short'
                             ' or another format); convert again with '
                             'tools/dataset_converters/nyu_depth_v2.py '
                             '--overwrite')
        return img

    def _load_depth(self, path: str) -> np.ndarray:
        if self.depth_encoding == 'hha':
            hha = mmcv.bgr2rgb(self._read(path, cv2.IMREAD_COLOR))
            return hha.astype(np.float32) / 255.0  # (H, W, 3)
        raw = self._read(path, cv2.IMREAD_UNCHANGED)
        if raw.dtype != np.uint16 or raw.ndim != 2:
            raise ValueError(
                f'{path} is {raw.dtype} {raw.shape}; depth_encoding='
                f'{self.depth_encoding!r} needs a 1-channel 16-bit PNG '
                '(tools/dataset_converters/nyu_depth_v2.py writes them)')
        depth_m = raw.astype(np.float32) / self.depth_scale
        return encode_depth(depth_m, self.depth_encoding,
                            self.max_depth)[..., None]  # (H, W, 1)

    def transform(self, results: dict) -> dict:
        """Load the modalities; see the class docstring."""
        paths = {}
        for name in self.modalities:
            key = f'{name}_path'
            if not results.get(key):
                raise KeyError(f'results have no {key!r} to load {name!r} '
                               f'from; keys: {sorted(results)}')
            paths[name] = results[key]
        if 'rgb' in paths:
            bgr = self._read(paths['rgb'], cv2.IMREAD_COLOR)
            results['rgb'] = mmcv.bgr2rgb(bgr)
        if 'depth' in paths:
            results['depth'] = self._load_depth(paths['depth'])
        shapes = {n: results[n].shape[:2] for n in self.modalities}
        if len(set(shapes.values())) > 1:
            raise ValueError('the maps of one sample differ in size: ' +
                             ', '.join(f'{paths[n]} {shapes[n]}'
                                       for n in self.modalities))
        hw = shapes[self.modalities[0]]
        results['modal_fields'] = list(self.modalities)
        results['img_shape'] = hw
        results['ori_shape'] = hw
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(modalities={self.modalities}, '
                f'depth_encoding={self.depth_encoding!r}, '
                f'max_depth={self.max_depth}, '
                f'depth_scale={self.depth_scale})')


@TRANSFORMS.register_module()
@declares(writes=None, randomness=_resize_random)
class MultiModalRandomResize(BaseTransform):
    """Rescale every modality and label map by one random factor.

    ``r ~ U(ratio_range)`` once per sample; every map of ``(H, W)`` becomes
    ``(round(r * H), round(r * W))`` (``mmcv.imrescale``). For NYU's 480x640
    images that is mmseg's ``RandomResize(scale=(640, 480),
    ratio_range=..., keep_ratio=True)``; being relative to the loaded size it
    works unchanged on any image size. Label maps (``seg_fields``) always
    use nearest neighbour; each modality uses ``interpolations[name]``
    (default ``'bilinear'``; depth defaults to ``'nearest'``, which keeps
    object edges sharp instead of inventing depths between surfaces).

    Updated keys: the modalities, ``seg_fields`` maps, ``'img_shape'``;
    added: ``'scale_factor'`` ``(r_w, r_h)``.

    Args:
        ratio_range (tuple[float, float]): bounds of ``r``, ``0 < lo <= hi``.
            Defaults to ``(0.5, 2.0)``.
        interpolations (dict, optional): ``{modality: mode}``. Defaults to
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
        self.interpolations = dict(
            depth='nearest') if interpolations is None else dict(
                interpolations)

    def _ratio(self) -> float:
        lo, hi = self.ratio_range
        return float(np.random.uniform(lo, hi)) if hi > lo else lo

    def transform(self, results: dict) -> dict:
        """Rescale all maps of the sample by one random ratio."""
        h, w = _hw(results)
        r = self._ratio()
        size = (max(1, int(round(w * r))), max(1, int(round(h * r))))  # W, H
        for name in _modal_fields(results):
            img = results[name]
            out = mmcv.imresize(
                img, size, interpolation=self.interpolations.get(
                    name, 'bilinear'))
            results[name] = _keep_channels(out, img)
        for key in results.get('seg_fields', []):
            results[key] = mmcv.imresize(
                results[key], size, interpolation='nearest')
        results['img_shape'] = (size[1], size[0])
        results['scale_factor'] = (size[0] / w, size[1] / h)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ratio_range={self.ratio_range}, '
                f'interpolations={self.interpolations})')


@TRANSFORMS.register_module()
@declares(writes=None, randomness=_crop_random)
class MultiModalRandomCrop(BaseTransform):
    """Crop the same random window out of every modality and label map.

    The window is ``crop_size`` (or the map itself where that is smaller),
    at a uniform random offset. As in mmseg's ``RandomCrop``, with
    ``cat_max_ratio < 1`` up to 10 windows are drawn until no single class
    covers more than ``cat_max_ratio`` of the window's labeled pixels (label
    ``ignore_index`` does not count) and at least two classes are present;
    otherwise the last draw is kept.

    Updated keys: the modalities, ``seg_fields`` maps, ``'img_shape'``;
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
        self.crop_size = _size_arg(crop_size, 'crop_size')
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
        y1, y2, x1, x2 = box
        labels, counts = np.unique(seg[y1:y2, x1:x2], return_counts=True)
        counts = counts[labels != self.ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() \
            < self.cat_max_ratio

    def transform(self, results: dict) -> dict:
        """Crop every map of the sample with one random window."""
        hw = _hw(results)
        crop = self.crop_size or tuple(results['ori_shape'])
        box = self._draw(hw, crop)
        seg = results.get(self.seg_key)
        if self.cat_max_ratio < 1 and seg is not None:
            for _ in range(10):
                if self._balanced(seg, box):
                    break
                box = self._draw(hw, crop)
        y1, y2, x1, x2 = box
        for key in (*_modal_fields(results), *results.get('seg_fields', [])):
            results[key] = results[key][y1:y2, x1:x2, ...]
        results['img_shape'] = (y2 - y1, x2 - x1)
        results['crop_bbox'] = box
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_size={self.crop_size}, '
                f'cat_max_ratio={self.cat_max_ratio}, '
                f'ignore_index={self.ignore_index})')


@TRANSFORMS.register_module()
@declares(writes=None, randomness=_flip_random)
class MultiModalRandomFlip(BaseTransform):
    """Flip every modality and label map together, with probability ``prob``.

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
        """Flip all maps of the sample, or none."""
        flip = bool(np.random.rand() < self.prob)
        if flip:
            for key in (*_modal_fields(results),
                        *results.get('seg_fields', [])):
                results[key] = np.ascontiguousarray(
                    mmcv.imflip(results[key], direction=self.direction))
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')


@TRANSFORMS.register_module()
@declares(
    writes=lambda args: (args.get('key', 'rgb'), ),
    randomness=_hsv_random)
class RandomHSV(BaseTransform):
    """Random hue, saturation and value jitter of one uint8 RGB image.

    With probability ``prob``, the image is converted to HSV (hue in degrees
    [0, 360), saturation and value in [0, 1]) and

    - hue: ``H + U(-hue_delta, hue_delta)`` degrees, modulo 360;
    - saturation: ``S * U(saturation_range)``, clipped to [0, 1];
    - value: ``V * U(value_range)``, clipped to [0, 1];

    then converted back and rounded to uint8. Only ``key`` changes: depth is
    not a colour image (paper A.2: random HSV on the RGB modality).

    Args:
        hue_delta (float): degrees, in [0, 180]. Defaults to 18.
        saturation_range (tuple[float, float]): Defaults to (0.7, 1.3).
        value_range (tuple[float, float]): Defaults to (0.7, 1.3).
        prob (float): Defaults to 1.
        key (str): Defaults to ``'rgb'``.
    """

    def __init__(self,
                 hue_delta: float = 18.0,
                 saturation_range: Tuple[float, float] = (0.7, 1.3),
                 value_range: Tuple[float, float] = (0.7, 1.3),
                 prob: float = 1.0,
                 key: str = 'rgb') -> None:
        super().__init__()
        if not 0 <= hue_delta <= 180:
            raise ValueError(f'hue_delta={hue_delta} must be in [0, 180]')
        for name, rng in (('saturation_range', saturation_range),
                          ('value_range', value_range)):
            lo, hi = rng
            if not 0 <= lo <= hi:
                raise ValueError(f'{name}={tuple(rng)!r} must have '
                                 '0 <= low <= high')
        if not 0 <= prob <= 1:
            raise ValueError(f'prob={prob} must be in [0, 1]')
        self.hue_delta = float(hue_delta)
        self.saturation_range = tuple(float(v) for v in saturation_range)
        self.value_range = tuple(float(v) for v in value_range)
        self.prob = float(prob)
        self.key = key

    @staticmethod
    def jitter(rgb: np.ndarray, hue_shift: float, sat_gain: float,
               val_gain: float) -> np.ndarray:
        """Apply one HSV change to a uint8 ``(H, W, 3)`` RGB image."""
        hsv = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = np.mod(hsv[..., 0] + hue_shift, 360.0)
        hsv[..., 1] = np.clip(hsv[..., 1] * sat_gain, 0, 1)
        hsv[..., 2] = np.clip(hsv[..., 2] * val_gain, 0, 1)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def transform(self, results: dict) -> dict:
        """Jitter ``results[key]``."""
        img = results[self.key]
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'RandomHSV needs a uint8 (H, W, 3) RGB image '
                             f'in {self.key!r}, got {img.dtype} {img.shape};'
                             ' put it before MultiModalNormalize')
        if np.random.rand() < self.prob:
            results[self.key] = self.jitter(
                img, float(np.random.uniform(-self.hue_delta,
                                             self.hue_delta)),
                float(np.random.uniform(*self.saturation_range)),
                float(np.random.uniform(*self.value_range)))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(hue_delta={self.hue_delta}, '
                f'saturation_range={self.saturation_range}, '
                f'value_range={self.value_range}, prob={self.prob}, '
                f'key={self.key!r})')


@TRANSFORMS.register_module()
@declares(writes=lambda args: tuple(args.get('norm_cfg') or ()) or None)
class MultiModalNormalize(BaseTransform):
    """``(x - mean) / std`` per channel, with statistics per modality.

    Every modality in ``modal_fields`` needs an entry of ``norm_cfg``;
    ``mean`` and ``std`` have one value per channel, or one value for all.
    Output: float32 ``(H, W, C)``.

    Args:
        norm_cfg (dict): ``{modality: dict(mean=[...], std=[...])}``, e.g.
            ImageNet's statistics (0-255 scale) for ``'rgb'`` and
            ``mean=[0.5], std=[0.5]`` for depth encoded in [0, 1], which
            maps it to [-1, 1].
    """

    def __init__(self,
                 norm_cfg: Dict[str, Dict[str, Sequence[float]]]) -> None:
        super().__init__()
        if not norm_cfg:
            raise ValueError('norm_cfg must name at least one modality')
        self.norm_cfg: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
        for name, cfg in norm_cfg.items():
            mean = np.asarray(cfg['mean'], np.float32).reshape(-1)
            std = np.asarray(cfg['std'], np.float32).reshape(-1)
            if (std <= 0).any():
                raise ValueError(f'norm_cfg[{name!r}] std={std.tolist()} '
                                 'must be > 0')
            self.norm_cfg[name] = (mean, std)

    def transform(self, results: dict) -> dict:
        """Normalize every loaded modality."""
        for name in _modal_fields(results):
            if name not in self.norm_cfg:
                raise KeyError(f'modality {name!r} has no norm_cfg entry '
                               f'(entries: {sorted(self.norm_cfg)})')
            mean, std = self.norm_cfg[name]
            img = results[name].astype(np.float32)
            if img.ndim == 2:
                img = img[..., None]
            if mean.size not in (1, img.shape[2]) or std.size not in (
                    1, img.shape[2]):
                raise ValueError(
                    f'norm_cfg[{name!r}] has {mean.size} mean / {std.size} '
                    f'std values for {img.shape[2]} channels')
            results[name] = (img - mean) / std
        return results

    def __repr__(self) -> str:
        cfg = {k: (m.tolist(), s.tolist())
               for k, (m, s) in self.norm_cfg.items()}
        return f'{type(self).__name__}(norm_cfg={cfg})'


@TRANSFORMS.register_module()
@declares(writes=None)
class MultiModalPad(BaseTransform):
    """Pad every modality and label map at the bottom and right to ``size``.

    Modalities are padded with ``pad_val`` (0 = the mean after
    :class:`MultiModalNormalize`), label maps with ``seg_pad_val`` (void),
    so every training sample of a batch has one shape.

    Added keys: ``'pad_shape'`` ``(H, W)`` and ``'padding_size'``
    ``(left, right, top, bottom)`` as mmseg's post-processing reads it.

    Args:
        size (int | tuple[int, int], optional): ``(H, W)``; None (default)
            pads to ``results['ori_shape']``. A map already larger is left
            as it is in that dimension.
        pad_val (float): Defaults to 0.
        seg_pad_val (int): Defaults to 255.
    """

    def __init__(self,
                 size: Optional[Union[int, Sequence[int]]] = None,
                 pad_val: float = 0.0,
                 seg_pad_val: int = 255) -> None:
        super().__init__()
        self.size = _size_arg(size, 'size')
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def transform(self, results: dict) -> dict:
        """Pad all maps of the sample to one size."""
        h, w = _hw(results)
        th, tw = self.size or tuple(results['ori_shape'])
        th, tw = max(th, h), max(tw, w)
        for key in _modal_fields(results):
            img = results[key]
            results[key] = _keep_channels(
                mmcv.impad(img, shape=(th, tw), pad_val=self.pad_val), img)
        for key in results.get('seg_fields', []):
            results[key] = mmcv.impad(
                results[key], shape=(th, tw), pad_val=self.seg_pad_val)
        results['pad_shape'] = (th, tw)
        results['padding_size'] = (0, tw - w, 0, th - h)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, '
                f'pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val})')


@TRANSFORMS.register_module()
@declares(writes=())
class PackMultiModalSegInputs(BaseTransform):
    """Pack a segmentation sample: ``{'inputs': {name: Tensor},
    'data_samples': SegDataSample}``.

    - ``inputs[name]``: float32 ``(C, H, W)`` from each ``(H, W, C)``
      modality (``(H, W)`` gives ``C = 1``); MMEngine's collate stacks them.
    - ``data_samples``: mmseg ``SegDataSample`` with ``gt_sem_seg`` (a
      ``PixelData`` of int64 ``(1, H, W)``) when ``results['gt_seg_map']``
      exists, and the ``meta_keys`` found in ``results`` as metainfo; mmseg's
      ``EncoderDecoder.predict`` reads ``ori_shape``, ``img_shape``,
      ``pad_shape``, ``padding_size`` and ``flip`` from there, so unimodal
      mmseg models (through ``fdkd.MultiModalDataPreprocessor(modality=
      ...)``) and ``fdkd.CrossModalDistill`` both take these batches.

    Args:
        modalities (Sequence[str]): the modalities to pack. Defaults to
            ``('rgb', 'depth')``.
        meta_keys (Sequence[str]): results keys kept as metainfo (absent
            ones are left out).
    """

    DEFAULT_META_KEYS: Tuple[str, ...] = (
        'img_path', 'rgb_path', 'depth_path', 'seg_map_path', 'sample_idx',
        'ori_shape', 'img_shape', 'pad_shape', 'padding_size', 'scale_factor',
        'flip', 'flip_direction', 'reduce_zero_label')

    def __init__(self,
                 modalities: Sequence[str] = RGBD_MODALITIES,
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        super().__init__()
        modalities = (modalities, ) if isinstance(modalities,
                                                  str) else tuple(modalities)
        if not modalities or len(set(modalities)) != len(modalities):
            raise ValueError(f'modalities={modalities!r} must be non-empty '
                             'and without duplicates')
        self.modalities = modalities
        self.meta_keys = (meta_keys, ) if isinstance(meta_keys,
                                                     str) else tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack one sample (see the class docstring)."""
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        inputs = {}
        for name in self.modalities:
            if name not in results:
                raise KeyError(
                    f'modality {name!r} is missing from the results of '
                    f'{results.get("img_path", "?")}; keys: {sorted(results)}')
            img = np.asarray(results[name], dtype=np.float32)
            if img.ndim == 2:
                img = img[..., None]
            inputs[name] = torch.from_numpy(
                np.ascontiguousarray(img.transpose(2, 0, 1)))  # (C, H, W)
        data_sample = SegDataSample()
        if 'gt_seg_map' in results:
            gt = results['gt_seg_map'].astype(np.int64)[None]  # (1, H, W)
            data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt))
        data_sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(modalities={self.modalities}, '
                f'meta_keys={self.meta_keys})')
