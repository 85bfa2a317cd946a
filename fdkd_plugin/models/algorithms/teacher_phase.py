"""How a ``fdkd.CrossModalDistill`` obtains its teacher's records on a
training step: a frozen teacher's forward without gradients, a trainable
teacher's forward with its own losses, or the teacher cache
(:mod:`.teacher_cache`), which computes a frozen teacher's records once per
sample and replays them."""
from typing import Dict, List, Optional, Union

import torch
from mmengine.structures import BaseDataElement
from mmrazor.models.utils import add_prefix

from .teacher_cache import TeacherCache

__all__ = ['TeacherPhase']

Inputs = Dict[str, torch.Tensor]


class TeacherPhase:
    """Mixin of ``CrossModalDistill``: the teacher side of a step. Uses the
    algorithm's ``teacher``, ``distiller``, ``teacher_modality``,
    ``teacher_trainable``, ``teacher_cache`` and ``_per_clip``."""

    def _build_teacher_cache(self,
                             cfg: Optional[Dict]) -> Optional[TeacherCache]:
        if cfg is None:
            return None
        if not isinstance(cfg, dict):
            raise ValueError(f'teacher_cache={cfg!r} must be a dict or None')
        if self.teacher_trainable:
            raise ValueError('teacher_cache needs a frozen teacher; got '
                             'teacher_trainable=True (its features change '
                             'every step)')
        deliveries = getattr(self.distiller, 'deliveries', None)
        if deliveries is not None and len(deliveries.deliveries):
            raise ValueError(
                'teacher_cache cannot replay distill_deliveries '
                f'({sorted(deliveries.deliveries)}): they record teacher '
                'calls inside its forward pass')
        if isinstance(self.teacher_modality, tuple):
            raise ValueError('teacher_cache checks one teacher modality\'s '
                             'pipeline; a fused teacher '
                             f'{self.teacher_modality} is not cached')
        return TeacherCache(teacher_modality=self.teacher_modality, **cfg)

    def _teacher_phase(self,
                       teacher_inputs: Union[torch.Tensor, Inputs, None],
                       data_samples: Optional[List[BaseDataElement]],
                       device: Optional[torch.device] = None) -> dict:
        """The teacher's forward (cached, frozen or trainable), its records
        in the teacher recorders; returns the losses it adds (the cache's
        hit rate, a trainable teacher's own). ``teacher_inputs`` is None
        when the batch carries none (the cache's ``skip_inputs``); the
        cached rows then go to ``device``."""
        losses = dict()
        self.distiller.set_deliveries_override(False)
        if self.teacher_cache is not None:
            cache = self.teacher_cache
            hits = cache.hits
            if teacher_inputs is not None:
                device = teacher_inputs.device
            self._cached_teacher_forward(teacher_inputs, data_samples,
                                         device)
            losses['teacher_cache.hit_rate'] = torch.tensor(
                (cache.hits - hits) / max(len(data_samples or ()), 1),
                device=device)
        elif self.teacher_trainable:
            with self.distiller.teacher_recorders, self.distiller.deliveries:
                teacher_losses = self.teacher(
                    teacher_inputs, data_samples, mode='loss')
            self._per_clip(self.teacher, self.distiller.teacher_recorders,
                           teacher_inputs)
            losses.update(add_prefix(teacher_losses, 'teacher'))
        else:
            self._frozen_teacher_forward(teacher_inputs, data_samples)
        return losses

    def _frozen_teacher_forward(
            self, teacher_inputs: torch.Tensor,
            data_samples: Optional[List[BaseDataElement]]) -> torch.Tensor:
        """The frozen teacher's 'tensor' output, its records recorded."""
        with self.distiller.teacher_recorders, self.distiller.deliveries:
            with torch.no_grad():
                # 'tensor' mode: the recorders need the forward pass only,
                # not the teacher's (discarded) task loss
                output = self.teacher(
                    teacher_inputs, data_samples, mode='tensor')
        self._per_clip(self.teacher, self.distiller.teacher_recorders,
                       teacher_inputs)
        return output

    def _cached_teacher_forward(
            self, teacher_inputs: Optional[torch.Tensor],
            data_samples: Optional[List[BaseDataElement]],
            device: Optional[torch.device] = None) -> torch.Tensor:
        """The frozen teacher's output from the cache; its records, cached
        or computed on the samples not cached yet, replayed into the
        teacher recorders."""
        recorders = self.distiller.teacher_recorders.recorders

        def compute(inputs, samples) -> dict:
            output = self._frozen_teacher_forward(inputs, samples)
            return dict(
                output=output,
                records={
                    name: list(rec.data_buffer)
                    for name, rec in recorders.items()
                })

        if self.teacher_cache.store is None:  # first batch: key and storage
            self.teacher_cache.open(self.teacher,
                                    self.distiller.teacher_recorders)
        state = self.teacher_cache.fetch(teacher_inputs, data_samples,
                                         compute, device)
        for name, rec in recorders.items():
            rec.reset_data_buffer()
            rec.data_buffer.extend(state['records'][name])
        return state['output']
