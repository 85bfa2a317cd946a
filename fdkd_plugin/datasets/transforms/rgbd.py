"""Loading and colour transforms of paired RGB-D pipelines (NYU-Depth V2).

:class:`LoadRGBD` reads the RGB image (uint8) and the depth map (encoded to
[0, 1], float32) of a sample and names them in ``results['modal_fields']``,
so the paired geometric transforms (:mod:`.geometry`) give both and the
label map (``seg_fields``, from ``mmseg.LoadAnnotations``) one random
resize, crop and flip. :class:`RandomHSV` changes the colours of RGB only.
Normalization and padding happen on the batch, in
``fdkd.MultiModalDataPreprocessor`` (``norm_cfg``, ``pad_to``).

A training pipeline (the paper's augmentation: random HSV on RGB, random
flip; the same random crop for all three maps)::

    dict(type='fdkd.LoadRGBD', depth_encoding='log'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='fdkd.MultiModalRandomResize', ratio_range=(0.5, 2.0)),
    dict(type='fdkd.MultiModalRandomCrop', cat_max_ratio=0.75),
    dict(type='fdkd.MultiModalRandomFlip', prob=0.5),
    dict(type='fdkd.RandomHSV'),
    dict(type='fdkd.PackMultiModalInputs', modalities=('rgb', 'depth')),

Randomness comes from ``np.random``, which MMEngine seeds per worker.
"""
import math
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from fdkd_plugin.registry import TRANSFORMS
from .declare import declares

__all__ = [
    'DEPTH_ENCODINGS', 'encode_depth', 'LoadRGBD', 'RandomHSV',
    'MultiModalNormalize', 'MultiModalPad', 'PackMultiModalSegInputs'
]

#: Depth encodings of :class:`LoadRGBD`.
DEPTH_ENCODINGS: Tuple[str, ...] = ('log', 'metric', 'hha')
#: Modalities :class:`LoadRGBD` can load.
RGBD_MODALITIES: Tuple[str, ...] = ('rgb', 'depth')


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


def _hsv_random(args: dict) -> Optional[str]:
    """Random hue, saturation and value, drawn with ``prob``."""
    prob = args.get('prob', 1.0)
    return f'random HSV changes with prob={prob}' if prob > 0 else None


def _loaded(args: dict) -> Tuple[str, ...]:
    """The modalities a LoadRGBD config loads."""
    modalities = args.get('modalities', RGBD_MODALITIES)
    return (modalities, ) if isinstance(modalities, str) else tuple(
        modalities)


@TRANSFORMS.register_module()
@declares(writes=_loaded, fields=_loaded)
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
                             ' the data preprocessor normalizes it later')
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


class _Moved(BaseTransform):
    """A transform that moved: building it says where to."""

    MOVED_TO = ''

    def __init__(self, *args, **kwargs) -> None:
        raise TypeError(f'fdkd.{type(self).__name__} is gone: '
                        f'{self.MOVED_TO}. configs/_base_/datasets/'
                        'nyu_depth_v2.py shows the pipeline')

    def transform(self, results: dict) -> dict:  # pragma: no cover
        raise NotImplementedError


@TRANSFORMS.register_module()
class MultiModalNormalize(_Moved):
    MOVED_TO = ('normalization is done on the batch now: put its norm_cfg '
                'in model.data_preprocessor (fdkd.MultiModalDataPreprocessor'
                '(norm_cfg=...)) and remove it from the pipeline')


@TRANSFORMS.register_module()
class MultiModalPad(_Moved):
    MOVED_TO = ('padding is done on the batch now: set model.'
                "data_preprocessor.pad_to='ori_shape' (or an (H, W)) and "
                'remove it from the pipeline')


@TRANSFORMS.register_module()
class PackMultiModalSegInputs(_Moved):
    MOVED_TO = ('fdkd.PackMultiModalInputs packs segmentation samples too '
                '(a SegDataSample when the results hold seg_fields)')
