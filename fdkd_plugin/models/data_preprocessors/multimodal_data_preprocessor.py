"""Batch pre-processing for paired multi-modal inputs."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from fdkd_plugin.registry import MODELS
from .norm import check_norm_cfg, normalize, pad_targets

__all__ = ['MultiModalDataPreprocessor']


@MODELS.register_module()
class MultiModalDataPreprocessor(BaseDataPreprocessor):
    """Normalize, pad and stack each modality of a batch on the model's
    device.

    ``inputs = {modality: [Tensor, ...]}`` from ``fdkd.PackMultiModalInputs``
    becomes ``{modality: Tensor (N, ...)}``:

    1. every sample moves to the model's device as packed (uint8 frames
       cross the worker boundary and the host-to-device copy at a quarter
       of float32's size);
    2. a uint8 tensor (pixels) becomes float32, and a modality named in
       ``norm_cfg`` becomes ``(x - mean) / std`` per channel (the channel
       axis is the third from last: ``(C, H, W)`` or ``(k, C, H, W)``), as
       MMPretrain's and MMSegmentation's pre-processors do for images;
    3. with ``pad_to``, every image modality is padded at the bottom and
       right (with ``pad_val``, i.e. the mean after normalization) to its
       sample's ``ori_shape`` (``pad_to='ori_shape'``) or to a fixed
       ``(H, W)``, and the label map ``gt_sem_seg`` with ``seg_pad_val``;
       ``pad_shape`` and ``padding_size`` go into the metainfo, as mmseg's
       post-processing reads them;
    4. the samples are stacked (or kept as ``default_collate`` stacked
       them).

    - With ``modality=None`` (distillation) the batch keeps the dict, and
      ``CrossModalDistill`` hands each network its own modality.
    - With ``modality='audio'`` (a unimodal model, e.g. mmpretrain's
      ``ImageClassifier``) only that tensor is returned, so any host model
      trains on one modality of a paired data set unchanged.

    A distiller (``fdkd.CrossModalDistill``) composes its own from its two
    networks' (:func:`paired_preprocessor_cfg`): each network's config
    carries the normalization of its modality, as a unimodal model's does.

    Args:
        modality (str, optional): The modality to select. Defaults to None.
        norm_cfg (dict, optional): ``{modality: dict(mean=[...],
            std=[...])}``, one value per channel or one for all; e.g.
            ImageNet's statistics (0-255 scale) for ``'visual'``. A modality
            without an entry is only cast to float32 when it is uint8
            (other integer inputs, e.g. token ids, stay as they are).
            Defaults to None.
        pad_to (str | tuple[int, int], optional): ``'ori_shape'`` or
            ``(H, W)``; a sample already larger keeps its size in that
            dimension. Defaults to None (no padding: the samples of a
            modality must share one shape).
        pad_val (float): Pad value of the inputs, after normalization.
            Defaults to 0.
        seg_pad_val (int): Pad value of ``gt_sem_seg``. Defaults to 255.
        batch_augments (dict, optional): MMPretrain batch augmentations
            (``augments=[dict(type='Mixup', alpha=0.8)]``) for the selected
            modality, applied by MMPretrain's ``ClsDataPreprocessor``; a
            unimodal ``ImageClassifier`` fills it from its ``train_cfg``.
            Not available without ``modality``: a mix of samples would have
            to be the same in both modalities.
        num_classes (int, optional): Classes, for the one-hot labels that
            batch augmentations need. When given, a training batch with a
            class label outside ``[0, num_classes)`` is refused with an
            error naming the clip (checked on the host, before the copy to
            the device: no synchronization).
        non_blocking (bool): Non-blocking host-to-device copies.
    """

    def __init__(self,
                 modality: Optional[str] = None,
                 norm_cfg: Optional[Dict[str, dict]] = None,
                 pad_to: Optional[Union[str, Sequence[int]]] = None,
                 pad_val: float = 0.0,
                 seg_pad_val: int = 255,
                 batch_augments: Optional[dict] = None,
                 num_classes: Optional[int] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if modality is not None and not isinstance(modality, str):
            raise ValueError(f'modality={modality!r} must be a str or None')
        self.modality = modality
        #: the config's ``norm_cfg`` (what a distiller composes from)
        self.norm_cfg: Dict[str, dict] = check_norm_cfg(norm_cfg)
        self._norm: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {
            name: (torch.tensor(cfg['mean'], dtype=torch.float32),
                   torch.tensor(cfg['std'], dtype=torch.float32))
            for name, cfg in self.norm_cfg.items()
        }
        if pad_to is not None and pad_to != 'ori_shape' and not (
                isinstance(pad_to, (tuple, list)) and len(pad_to) == 2
                and all(isinstance(v, int) and v > 0 for v in pad_to)):
            raise ValueError(f"pad_to={pad_to!r} must be None, 'ori_shape' "
                             'or an (H, W) of positive ints')
        self.pad_to = tuple(pad_to) if isinstance(pad_to, list) else pad_to
        self.pad_val = float(pad_val)
        self.seg_pad_val = int(seg_pad_val)
        self.num_classes = num_classes
        self.cls_preprocessor = None
        if batch_augments:
            if modality is None:
                raise ValueError('batch_augments need a selected modality '
                                 '(modality=None keeps both)')
            from mmpretrain.models.utils import ClsDataPreprocessor
            self.cls_preprocessor = ClsDataPreprocessor(
                batch_augments=batch_augments, num_classes=num_classes)

    def _normalize(self, x: torch.Tensor, name: str) -> torch.Tensor:
        stats = self._norm.get(name)
        if stats is None:  # uint8 pixels to float; token ids stay integers
            return x.float() if x.dtype == torch.uint8 else x
        return normalize(x, *stats, f'data_preprocessor.norm_cfg[{name!r}]')

    def _pad(self, values: List[torch.Tensor], samples: Optional[list],
             padded: set) -> List[torch.Tensor]:
        """Pad each sample (and, once, its label map) to its target."""
        sizes = [tuple(v.shape[-2:]) for v in values]
        targets = pad_targets(self.pad_to, sizes, samples)
        out = []
        for i, (v, (h, w), (th, tw)) in enumerate(zip(values, sizes,
                                                      targets)):
            pads = (0, tw - w, 0, th - h)
            out.append(F.pad(v, pads, value=self.pad_val) if any(pads) else v)
            if samples is None or i in padded:
                continue
            padded.add(i)
            sample = samples[i]
            if 'gt_sem_seg' in sample and any(pads):
                from mmengine.structures import PixelData
                sample.gt_sem_seg = PixelData(
                    data=F.pad(
                        sample.gt_sem_seg.data, pads,
                        value=self.seg_pad_val))
            sample.set_metainfo(dict(pad_shape=(th, tw), padding_size=pads))
        return out

    @staticmethod
    def _stack(value: Union[torch.Tensor, Sequence[torch.Tensor]],
               name: str) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value
        shapes = {tuple(v.shape) for v in value}
        if len(shapes) > 1:
            raise ValueError(f'inputs[{name!r}] has samples of different '
                             f'shapes {sorted(shapes)}; fix the pipeline so '
                             'every sample of a modality has one shape')
        return torch.stack(list(value))

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalize, pad, stack and cast; select the modality.

        Args:
            data (dict): ``{'inputs': {modality: ...}, 'data_samples': [...]}``
                from the data loader.
            training (bool): Unused; kept for the MMEngine interface.

        Returns:
            dict: ``inputs`` (a dict of ``(N, ...)`` tensors, or one tensor
            when ``modality`` is set) and ``data_samples``.
        """
        if training and self.num_classes is not None:
            from fdkd_plugin.models.algorithms.model_checks import \
                check_labels
            samples = data.get('data_samples')
            if samples and 'gt_label' in samples[0]:
                check_labels(
                    torch.cat([s.gt_label.flatten() for s in samples]),
                    self.num_classes, samples,
                    'model.data_preprocessor.num_classes')
        data = self.cast_data(data)
        inputs = data['inputs']
        if not isinstance(inputs, dict):
            raise TypeError('MultiModalDataPreprocessor expects inputs as a '
                            '{modality: tensor} dict (fdkd.PackMultiModal'
                            f'Inputs), got {type(inputs).__name__}')
        if self.modality is not None and self.modality not in inputs:
            raise KeyError(f'data_preprocessor.modality={self.modality!r}'
                           ' is not in the batch; the pipeline packs '
                           f'{sorted(inputs)}: set it to one of those, '
                           'or add it to the pipeline\'s '
                           'PackMultiModalInputs(modalities=...)')
        samples = data.get('data_samples')
        out, padded = {}, set()
        for name, value in inputs.items():
            if self.modality is not None and name != self.modality:
                continue  # a unimodal model: only its own modality
            if self.pad_to is not None and value[0].dim() >= 3:
                value = [self._normalize(v, name) for v in value]
                value = self._stack(self._pad(value, samples, padded), name)
            else:
                value = self._normalize(self._stack(value, name), name)
            out[name] = value
        inputs = out
        if self.modality is not None:
            inputs = inputs[self.modality]
            if self.cls_preprocessor is not None:
                return self.cls_preprocessor(
                    dict(inputs=inputs, data_samples=data.get('data_samples')),
                    training)
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
