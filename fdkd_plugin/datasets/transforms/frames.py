"""Frame loading of the audio-visual pipelines: choose ``k`` frames of a
clip folder and decode them as uint8.

Crop, resize and flip are the paired geometric transforms
(:mod:`.geometry`), which draw once per clip and apply to every frame;
normalization is ``fdkd.MultiModalDataPreprocessor``'s (``norm_cfg``), on the
batch. A training pipeline for one 224x224 frame of a clip::

    dict(type='fdkd.LoadFrames', num_frames=1),
    dict(type='fdkd.MultiModalRandomResizedCrop', scale=224),
    dict(type='fdkd.MultiModalRandomFlip', prob=0.5),

and its test pipeline::

    dict(type='fdkd.LoadFrames', num_frames=1, test_mode=True),
    dict(type='fdkd.MultiModalResize', scale=224),
"""
import os
import os.path as osp
from typing import List, Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from fdkd_plugin.registry import TRANSFORMS
from ..checks import FRAME_EXTENSIONS, jpeg_is_truncated
from .declare import declares
from .loading import clip_name

__all__ = ['LoadFrames']


def _load_frames_random(args: dict) -> Optional[str]:
    """A random frame per segment outside ``test_mode``."""
    if not args.get('test_mode', False):
        return 'a random frame per segment (test_mode=False)'
    return None


@TRANSFORMS.register_module()
@declares(
    writes=('visual', ), randomness=_load_frames_random, fields=('visual', ))
class LoadFrames(BaseTransform):
    """Choose and decode frames of a clip folder (uint8).

    Frames are the ``.jpg`` / ``.jpeg`` / ``.png`` files of
    ``results['frames_dir']``, sorted by name; ``n`` of them. The sorted list
    is split into ``num_frames = k`` segments, segment ``i`` covering indices
    ``[s_i, e_i)`` with ``s_i = floor(i * n / k)`` and
    ``e_i = max(floor((i + 1) * n / k), s_i + 1)`` (so with ``n < k`` frames
    repeat). One frame is taken per segment:

    - training (``test_mode=False``): uniform random in ``[s_i, e_i)``;
    - test (``test_mode=True``): the centre ``s_i + (e_i - s_i) // 2``, so
      ``k = 1`` takes the middle frame ``n // 2``.

    Which of the two is the transform's own flag, set per pipeline (the
    train pipeline leaves it False, the val / test pipelines set it True),
    like the host's separate train / test pipelines. All frames of a clip
    must have one size.

    Added keys: ``'visual'`` uint8 ``(H, W, 3)`` when ``num_frames == 1``,
    else the stack ``(num_frames, H, W, 3)``; ``'frame_inds'`` int64
    ``(num_frames, )`` indices into the sorted list; ``'visual'`` appended to
    ``'modal_fields'`` (what the paired geometric transforms act on);
    ``'img_shape'`` and ``'ori_shape'`` ``(H, W)``.

    Args:
        num_frames (int): Frames per clip. Defaults to 1.
        to_rgb (bool): Output RGB (else BGR, as OpenCV decodes). Defaults
            to True.
        test_mode (bool): Centre frames instead of random ones. Defaults to
            False.
    """

    EXTENSIONS: Tuple[str, ...] = FRAME_EXTENSIONS
    #: arguments LoadFrames took before crop, flip and normalization moved
    #: out of it, and where each went
    MOVED = dict(
        scale='fdkd.MultiModalRandomResizedCrop / fdkd.MultiModalResize '
        '(scale)',
        crop_scale='fdkd.MultiModalRandomResizedCrop(crop_scale)',
        crop_ratio='fdkd.MultiModalRandomResizedCrop(crop_ratio)',
        flip_prob='fdkd.MultiModalRandomFlip(prob)',
        mean='model.data_preprocessor.norm_cfg',
        std='model.data_preprocessor.norm_cfg')

    def __init__(self,
                 num_frames: int = 1,
                 to_rgb: bool = True,
                 test_mode: bool = False,
                 **moved) -> None:
        super().__init__()
        if moved:
            raise TypeError(
                'LoadFrames only chooses and decodes frames now; move ' +
                '; '.join(f'{k}={v!r} to {self.MOVED.get(k, "?")}'
                          for k, v in moved.items()) +
                ' (configs/_base_/datasets/avdigits.py shows the pipeline)')
        if int(num_frames) != num_frames or num_frames < 1:
            raise ValueError(f'num_frames={num_frames} must be an integer '
                             '>= 1')
        self.num_frames = int(num_frames)
        self.to_rgb = bool(to_rgb)
        self.test_mode = bool(test_mode)

    def list_frames(self, frames_dir: str) -> List[str]:
        """The frame files of a folder, sorted by name.

        Args:
            frames_dir (str): The clip's frame folder.

        Returns:
            list[str]: Full paths, sorted by file name.

        Raises:
            FileNotFoundError: The folder does not exist or holds no frame.
        """
        if not osp.isdir(frames_dir):
            raise FileNotFoundError(
                f'frame folder {frames_dir} does not exist')
        names = sorted(n for n in os.listdir(frames_dir)
                       if n.lower().endswith(self.EXTENSIONS))
        if not names:
            raise FileNotFoundError(
                f'frame folder {frames_dir} holds no '
                f'{"/".join(self.EXTENSIONS)} file')
        return [osp.join(frames_dir, n) for n in names]

    def sample_indices(self, num_total: int) -> np.ndarray:
        """One index per segment (random in training, centre at test).

        Args:
            num_total (int): ``n``, the number of frames in the folder.

        Returns:
            np.ndarray: ``(num_frames, )`` int64 indices in ``[0, n)``.
        """
        n, k = num_total, self.num_frames
        inds = np.empty(k, dtype=np.int64)
        for i in range(k):
            s = i * n // k
            e = min(max((i + 1) * n // k, s + 1), n)
            s = min(s, n - 1)
            if self.test_mode:
                inds[i] = s + (e - s) // 2
            else:
                inds[i] = np.random.randint(s, e)
        return inds

    def _read(self, path: str) -> np.ndarray:
        """Decode one frame as ``(H, W, 3)`` uint8 (grey frames too).

        Raises:
            OSError: The file is empty, a JPEG cut short (OpenCV would decode
                it with a grey rest), or not an image OpenCV decodes; the
                message names the file and says what to do.
        """
        with open(path, 'rb') as f:
            data = f.read()
        redo = ("; extract this clip's frames again or delete the file")
        if not data:
            raise OSError(f'frame file {path} is empty (0 bytes){redo}')
        if path.lower().endswith(('.jpg', '.jpeg')) and \
                jpeg_is_truncated(data):
            raise OSError(f'frame file {path} is truncated (no JPEG end '
                          f'marker){redo}')
        try:
            img = mmcv.imfrombytes(
                data,
                flag='color',
                channel_order='rgb' if self.to_rgb else 'bgr')
        except Exception as err:  # noqa: BLE001  cv2.error and others
            raise OSError(f'cannot decode frame file {path} '
                          f'({type(err).__name__}){redo}') from err
        if img is None:
            raise OSError(f'cannot decode frame file {path}{redo}')
        return img  # (H, W, 3) uint8

    def transform(self, results: dict) -> dict:
        """Load the frames of ``results['frames_dir']`` into ``'visual'``.

        Args:
            results (dict): Needs ``'frames_dir'``.

        Returns:
            dict: ``results`` with ``'visual'``, ``'frame_inds'``,
            ``'modal_fields'``, ``'img_shape'``, ``'ori_shape'``.
        """
        frames_dir = results.get('frames_dir')
        if frames_dir is None:
            raise KeyError(f'LoadFrames: results of clip '
                           f"{clip_name(results)} have no 'frames_dir'")
        files = self.list_frames(frames_dir)
        inds = self.sample_indices(len(files))
        imgs = [self._read(files[i]) for i in inds]
        h0, w0 = imgs[0].shape[:2]
        for i, img in zip(inds, imgs):
            if img.shape[:2] != (h0, w0):
                raise ValueError(
                    f'frame folder {frames_dir}: {files[i]} is '
                    f'{img.shape[1]}x{img.shape[0]}, {files[inds[0]]} is '
                    f'{w0}x{h0}; the frames of a clip must share one size')
        results['visual'] = imgs[0] if self.num_frames == 1 else np.stack(
            imgs)
        results['frame_inds'] = inds
        fields = list(results.get('modal_fields', ()))
        if 'visual' not in fields:
            fields.append('visual')
        results['modal_fields'] = fields
        results['img_shape'] = (h0, w0)
        results['ori_shape'] = (h0, w0)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_frames={self.num_frames}, '
                f'to_rgb={self.to_rgb}, test_mode={self.test_mode})')
