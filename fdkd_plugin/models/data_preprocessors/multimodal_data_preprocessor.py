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
            batch augmentations need.
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
        data = self.cast_data(data)
        inputs = data['inputs']
        if not isinstance(inputs, dict):
            raise TypeError('MultiModalDataPreprocessor expects inputs as a '
                            '{modality: tensor} dict (fdkd.PackMultiModal'
                            f'Inputs), got {type(inputs).__name__}')
        inputs = {k: self._stack(v, k) for k, v in inputs.items()}
        if self.modality is not None:
            if self.modality not in inputs:
                raise KeyError(f'modality {self.modality!r} is not in the '
                               f'batch; the pipeline packs {sorted(inputs)}')
            inputs = inputs[self.modality]
            if self.cls_preprocessor is not None:
                return self.cls_preprocessor(
                    dict(inputs=inputs, data_samples=data.get('data_samples')),
                    training)
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
