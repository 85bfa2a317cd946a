"""MMRazor's ``ConfigurableDistiller`` that hands the batch's labels to the
losses that take them."""
import inspect
from typing import Dict, Optional

import torch
from mmrazor.models.distillers import ConfigurableDistiller

from fdkd_plugin.registry import MODELS

__all__ = ['LabelledDistiller']

LossResults = Dict[str, torch.Tensor]


@MODELS.register_module()
class LabelledDistiller(ConfigurableDistiller):
    """``mmrazor.ConfigurableDistiller`` + labels by argument.

    A distill loss whose ``forward`` has a ``gt_label`` argument that its
    ``loss_forward_mappings`` entry does not map (DKD, NKD, C2KD) receives
    the batch's ``(N,)`` class labels, which ``fdkd.CrossModalDistill``
    passes to ``compute_distill_losses(gt_label=...)``. No recorder on the
    student head's loss module (MMRazor's own route for labels) is needed,
    so labels arrive the same way however the student computes its loss,
    and also when it computes none (``calculate_student_loss=False``).

    Everything else (recorders, connectors, mappings) is MMRazor's.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        #: losses that receive the labels as ``gt_label``
        self.label_losses = tuple(
            name for name, mapping in self.loss_forward_mappings.items()
            if 'gt_label' not in mapping and 'gt_label' in inspect.signature(
                self.distill_losses[name].forward).parameters)

    def compute_distill_losses(
            self, gt_label: Optional[torch.Tensor] = None) -> LossResults:
        """Every distill loss on its mapped records, ``gt_label`` added for
        :attr:`label_losses`.

        Raises:
            ValueError: a loss needs labels and the batch carried none.
        """
        takers = [n for n in self.label_losses
                  if n in self.loss_forward_mappings]
        if takers and gt_label is None:
            raise ValueError(
                f'distill losses {takers} take the class '
                'labels (gt_label) but the batch carries none: their data '
                "samples need a gt_label (PackMultiModalInputs packs it)")
        losses: LossResults = dict()
        for name, mapping in self.loss_forward_mappings.items():
            kwargs = {
                key: self.get_record(**record)
                for key, record in mapping.items()
            }
            if name in self.label_losses:
                kwargs['gt_label'] = gt_label
            losses[name] = self.distill_losses[name](**kwargs)
        return losses
