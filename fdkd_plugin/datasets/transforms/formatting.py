"""Pack the modalities of a sample into tensors and a ``DataSample``."""
from typing import Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from fdkd_plugin.registry import TRANSFORMS
from .declare import declares

__all__ = ['PackMultiModalInputs']


@TRANSFORMS.register_module()
@declares(writes=())
class PackMultiModalInputs(BaseTransform):
    """Pack ``results`` into ``{'inputs': {name: Tensor}, 'data_samples'}``.

    Output:

    - ``'inputs'`` (dict[str, Tensor]): for each name in ``modalities``,
      ``torch.from_numpy(results[name])`` (a tensor is kept as it is), e.g.
      ``'audio'`` (1, F, T) and ``'visual'`` (3, H, W) or (K, 3, H, W).
      MMEngine's collate stacks each entry over the batch.
    - ``'data_samples'`` (:class:`mmpretrain.structures.DataSample`):
      ``gt_label`` set from ``results['gt_label']`` when present, and the
      ``meta_keys`` found in ``results`` as metainfo (absent ones are left
      out).

    Args:
        modalities (Sequence[str]): The results keys to pack as inputs.
            Defaults to ``('audio', 'visual')``.
        meta_keys (Sequence[str]): The results keys to keep as metainfo.
            Defaults to ``('clip_id', 'sample_idx', 'frame_inds')``.
    """

    def __init__(self,
                 modalities: Sequence[str] = ('audio', 'visual'),
                 meta_keys: Sequence[str] = ('clip_id', 'sample_idx',
                                             'frame_inds')) -> None:
        super().__init__()
        if isinstance(modalities, str):
            modalities = (modalities, )
        modalities = tuple(modalities)
        if not modalities or len(set(modalities)) != len(modalities):
            raise ValueError(f'modalities={modalities!r} must be non-empty '
                             'and without duplicates')
        self.modalities: Tuple[str, ...] = modalities
        self.meta_keys: Tuple[str, ...] = (meta_keys, ) if isinstance(
            meta_keys, str) else tuple(meta_keys)

    @staticmethod
    def _to_tensor(value: object, name: str, clip_id: object) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(value))
        raise TypeError(f'modality {name!r} of clip {clip_id!r} is a '
                        f'{type(value).__name__}, not an array or tensor')

    def transform(self, results: dict) -> dict:
        """Pack one sample.

        Args:
            results (dict): Holds every name of ``modalities``.

        Returns:
            dict: ``{'inputs': dict[str, Tensor], 'data_samples':
            DataSample}``.

        Raises:
            KeyError: A modality is missing (naming it and the clip id).
        """
        from mmpretrain.structures import DataSample
        clip_id = results.get('clip_id', '?')
        inputs = {}
        for name in self.modalities:
            if name not in results:
                raise KeyError(f'modality {name!r} is missing from the '
                               f'results of clip {clip_id!r}; keys: '
                               f'{sorted(results)}')
            inputs[name] = self._to_tensor(results[name], name, clip_id)
        data_sample = DataSample()
        if 'gt_label' in results:
            data_sample.set_gt_label(results['gt_label'])
        data_sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(modalities={self.modalities}, '
                f'meta_keys={self.meta_keys})')
