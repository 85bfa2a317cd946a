"""Batch pre-processing for paired multi-modal inputs."""
from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor

from fdkd_plugin.registry import MODELS

__all__ = ['MultiModalDataPreprocessor']


@MODELS.register_module()
class MultiModalDataPreprocessor(BaseDataPreprocessor):
    """Stack each modality of a batch and move it to the model's device.

    The data pipeline (``fdkd.PackMultiModalInputs``) already normalizes each
    modality; this stacks ``inputs = {modality: [Tensor, ...]}`` into
    ``{modality: Tensor (N, ...)}`` (or keeps what ``default_collate`` has
    stacked) and casts it to the model's device.

    - With ``modality=None`` (distillation) the batch keeps the dict, and
      ``CrossModalDistill`` hands each network its own modality.
    - With ``modality='audio'`` (a unimodal model, e.g. mmpretrain's
      ``ImageClassifier``) only that tensor is returned, so any host model
      trains on one modality of a paired data set unchanged.

    Args:
        modality (str, optional): The modality to select. Defaults to None.
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
                 batch_augments: Optional[dict] = None,
                 num_classes: Optional[int] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if modality is not None and not isinstance(modality, str):
            raise ValueError(f'modality={modality!r} must be a str or None')
        self.modality = modality
        self.num_classes = num_classes
        self.cls_preprocessor = None
        if batch_augments:
            if modality is None:
                raise ValueError('batch_augments need a selected modality '
                                 '(modality=None keeps both)')
            from mmpretrain.models.utils import ClsDataPreprocessor
            self.cls_preprocessor = ClsDataPreprocessor(
                batch_augments=batch_augments, num_classes=num_classes)

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
        """Stack, cast, and select the modality.

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
        inputs = {k: self._stack(v, k) for k, v in inputs.items()}
        if self.modality is not None:
            if self.modality not in inputs:
                raise KeyError(f'data_preprocessor.modality={self.modality!r}'
                               ' is not in the batch; the pipeline packs '
                               f'{sorted(inputs)}: set it to one of those, '
                               'or add it to the pipeline\'s '
                               'PackMultiModalInputs(modalities=...)')
            inputs = inputs[self.modality]
            if self.cls_preprocessor is not None:
                return self.cls_preprocessor(
                    dict(inputs=inputs, data_samples=data.get('data_samples')),
                    training)
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
