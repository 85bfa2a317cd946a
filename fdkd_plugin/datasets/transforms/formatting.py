"""Pack the modalities of a sample into tensors and a data sample, for
classification and segmentation alike."""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from fdkd_plugin.registry import TRANSFORMS
from .declare import declares

__all__ = ['PackMultiModalInputs']

TASKS: Tuple[str, ...] = ('cls', 'seg')


@TRANSFORMS.register_module()
@declares(writes=())
class PackMultiModalInputs(BaseTransform):
    """Pack ``results`` into ``{'inputs': {name: Tensor}, 'data_samples'}``.

    Output:

    - ``'inputs'`` (dict[str, Tensor]): for each name in ``modalities``, a
      tensor of the array in the same dtype (uint8 frames stay uint8: the
      data preprocessor normalizes them on the batch). An image field (named
      in ``results['modal_fields']``) goes from ``(H, W, C)`` to
      ``(C, H, W)``, a frame stack from ``(k, H, W, C)`` to ``(k, C, H, W)``
      and an ``(H, W)`` map to ``(1, H, W)``; anything else (a spectrogram
      ``(1, F, T)``, token ids) is packed as it is. MMEngine's collate
      stacks each entry over the batch.
    - ``'data_samples'``: for ``task='cls'`` an mmpretrain ``DataSample``
      with ``gt_label`` from ``results['gt_label']`` when present; for
      ``task='seg'`` an mmseg ``SegDataSample`` with ``gt_sem_seg`` (int64
      ``(1, H, W)``) from ``results['gt_seg_map']`` when present. Both get
      the ``meta_keys`` found in ``results`` as metainfo (absent ones are
      left out); mmseg's ``EncoderDecoder.predict`` reads ``ori_shape``,
      ``img_shape``, ``padding_size`` and ``flip`` from there.

    Args:
        modalities (Sequence[str]): The results keys to pack as inputs.
            Defaults to ``('audio', 'visual')``.
        meta_keys (Sequence[str], optional): The results keys to keep as
            metainfo. Defaults to None: :attr:`META_KEYS` of the task.
        task (str, optional): ``'cls'`` or ``'seg'``. Defaults to None:
            ``'seg'`` when the results hold ``seg_fields`` (set by
            ``mmseg.LoadAnnotations``), else ``'cls'``.
    """

    META_KEYS = dict(
        cls=('clip_id', 'sample_idx', 'frame_inds'),
        seg=('img_path', 'rgb_path', 'depth_path', 'seg_map_path',
             'sample_idx', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
             'flip_direction', 'reduce_zero_label'))

    def __init__(self,
                 modalities: Sequence[str] = ('audio', 'visual'),
                 meta_keys: Optional[Sequence[str]] = None,
                 task: Optional[str] = None) -> None:
        super().__init__()
        if isinstance(modalities, str):
            modalities = (modalities, )
        modalities = tuple(modalities)
        if not modalities or len(set(modalities)) != len(modalities):
            raise ValueError(f'modalities={modalities!r} must be non-empty '
                             'and without duplicates')
        if task is not None and task not in TASKS:
            raise ValueError(f'task={task!r} must be one of {TASKS} or None')
        self.modalities: Tuple[str, ...] = modalities
        self.meta_keys: Optional[Tuple[str, ...]] = None if meta_keys is None \
            else ((meta_keys, ) if isinstance(meta_keys, str) else
                  tuple(meta_keys))
        self.task = task

    @staticmethod
    def _to_tensor(value: object, name: str, image: bool,
                   sample: object) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value
        if not isinstance(value, np.ndarray):
            raise TypeError(f'modality {name!r} of sample {sample!r} is a '
                            f'{type(value).__name__}, not an array or tensor')
        if image:
            if value.ndim == 2:
                value = value[None]  # (1, H, W)
            elif value.ndim in (3, 4):
                value = np.moveaxis(value, -1, -3)  # channels first
            else:
                raise ValueError(f'image field {name!r} of sample {sample!r}'
                                 f' has shape {value.shape}; expected (H, W), '
                                 '(H, W, C) or (k, H, W, C)')
        return torch.from_numpy(np.ascontiguousarray(value))

    def transform(self, results: dict) -> dict:
        """Pack one sample.

        Args:
            results (dict): Holds every name of ``modalities``.

        Returns:
            dict: ``{'inputs': dict[str, Tensor], 'data_samples':
            DataSample | SegDataSample}``.

        Raises:
            KeyError: A modality is missing (naming it and the sample).
        """
        sample = results.get('clip_id', results.get('img_path', '?'))
        images = set(results.get('modal_fields', ()))
        inputs = {}
        for name in self.modalities:
            if name not in results:
                raise KeyError(f'modality {name!r} is missing from the '
                               f'results of sample {sample!r}; keys: '
                               f'{sorted(results)}')
            inputs[name] = self._to_tensor(results[name], name, name
                                           in images, sample)
        task = self.task or ('seg' if 'seg_fields' in results else 'cls')
        if task == 'seg':
            from mmengine.structures import PixelData
            from mmseg.structures import SegDataSample
            data_sample = SegDataSample()
            if 'gt_seg_map' in results:
                gt = results['gt_seg_map'].astype(np.int64)[None]
                data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt))
        else:
            from mmpretrain.structures import DataSample
            data_sample = DataSample()
            if 'gt_label' in results:
                data_sample.set_gt_label(results['gt_label'])
        keys = self.META_KEYS[task] if self.meta_keys is None \
            else self.meta_keys
        data_sample.set_metainfo(
            {k: results[k]
             for k in keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(modalities={self.modalities}, '
                f'meta_keys={self.meta_keys}, task={self.task!r})')
