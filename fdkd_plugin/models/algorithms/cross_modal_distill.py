"""Single-teacher distillation where teacher and student see different
modalities of the same sample."""
import inspect
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from mmrazor.models.algorithms import SingleTeacherDistill
from mmrazor.models.distillers import OFDDistiller
from mmrazor.models.utils import add_prefix

from fdkd_plugin.registry import MODELS
from .teacher_cache import TeacherCache

__all__ = ['CrossModalDistill']

Inputs = Dict[str, torch.Tensor]


def gt_labels_of(data_samples: Optional[List[BaseDataElement]]
                 ) -> Optional[torch.Tensor]:
    """The ``(N,)`` class labels of a batch, or None if it carries none.

    Classification samples (mmpretrain ``DataSample``) hold ``gt_label`` as a
    1-element tensor each.
    """
    if not data_samples or 'gt_label' not in data_samples[0]:
        return None
    return torch.cat([sample.gt_label for sample in data_samples])


@MODELS.register_module()
class CrossModalDistill(SingleTeacherDistill):
    """Cross-modal knowledge distillation inside MMRazor.

    MMRazor's ``SingleTeacherDistill`` feeds the teacher the student's input;
    here the batch holds both modalities of each sample, ``inputs =
    {modality: Tensor}`` (``fdkd.MultiModalDataPreprocessor`` with
    ``modality=None``), and

    - the teacher gets ``inputs[teacher_modality]``,
    - the student gets ``inputs[student_modality]``,
    - predict/tensor modes (validation, test, deployment) use the student's
      modality only.

    Recorders, connectors and ``distill_losses`` work as in MMRazor, so every
    MMRazor loss (``mmrazor.KLDivergence``, ``mmrazor.L2Loss`` ...) is usable
    across modalities. A distiller whose ``compute_distill_losses`` takes a
    ``gt_label`` argument (``fdkd.FreqDecoupledDistiller``) receives the
    batch's labels explicitly.

    With ``teacher_cache`` the frozen teacher runs once per sample: its
    records and output are stored on the first visit and served afterwards:
    the teacher runs only on the samples of a batch not cached yet, not at
    all once they all are (see
    :mod:`fdkd_plugin.models.algorithms.teacher_cache`). The losses are
    those of the uncached algorithm; a teacher-side pipeline with random
    transforms is refused unless ``fixed_view=True``.

    Args:
        architecture (dict | BaseModel): The student.
        teacher (dict | BaseModel): The teacher.
        distiller (dict): The distiller config.
        student_modality (str): Key of the student's input, e.g. ``'audio'``.
        teacher_modality (str): Key of the teacher's input, e.g. ``'visual'``.
        teacher_ckpt (str, optional): Teacher checkpoint to load.
        teacher_trainable (bool): Train the teacher too (DML, C2KD); its
            task losses are then logged as ``teacher.*``. Defaults to False:
            the teacher is frozen (no gradient) and its norm layers stay in
            eval mode (``teacher_norm_eval=True``).
        **kwargs: Other arguments of ``SingleTeacherDistill``
            (``teacher_norm_eval``, ``calculate_student_loss``,
            ``data_preprocessor``, ...).
    """

    def __init__(self,
                 architecture: Union[BaseModel, Dict],
                 teacher: Union[BaseModel, Dict],
                 distiller: Dict,
                 student_modality: str,
                 teacher_modality: str,
                 teacher_ckpt: Optional[str] = None,
                 teacher_trainable: bool = False,
                 teacher_cache: Optional[Dict] = None,
                 data_preprocessor: Optional[Dict] = None,
                 **kwargs) -> None:
        for name, value in (('student_modality', student_modality),
                            ('teacher_modality', teacher_modality)):
            if not isinstance(value, str) or not value:
                raise ValueError(f'{name}={value!r} must be a non-empty str')
        if data_preprocessor is None:
            # the students' own preprocessor would select one modality
            data_preprocessor = dict(type='fdkd.MultiModalDataPreprocessor')
        super().__init__(
            architecture=architecture,
            teacher=teacher,
            distiller=distiller,
            teacher_ckpt=teacher_ckpt,
            teacher_trainable=teacher_trainable,
            data_preprocessor=data_preprocessor,
            **kwargs)
        self.student_modality = student_modality
        self.teacher_modality = teacher_modality
        self._distiller_takes_labels = 'gt_label' in inspect.signature(
            self.distiller.compute_distill_losses).parameters
        self.teacher_cache = self._build_teacher_cache(teacher_cache)
        if isinstance(self.distiller, OFDDistiller):
            # OFD's teacher margins come from the (loaded) teacher's BN, set
            # by mmrazor's OverhaulFeatureDistillation at build: do the same
            self.distiller.init_ofd_connectors(self.teacher)

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
        return TeacherCache(teacher_modality=self.teacher_modality, **cfg)

    def _modality(self, inputs: Union[Inputs, torch.Tensor],
                  key: str) -> torch.Tensor:
        if not isinstance(inputs, dict):
            raise TypeError(
                f'{type(self).__name__} needs paired inputs as a '
                '{modality: tensor} dict; set data_preprocessor='
                "dict(type='fdkd.MultiModalDataPreprocessor') (no modality)")
        if key not in inputs:
            raise KeyError(f'modality {key!r} is not in the batch, which '
                           f'holds {sorted(inputs)}; check the pipeline\'s '
                           'PackMultiModalInputs(modalities=...)')
        return inputs[key]

    def loss(self,
             batch_inputs: Inputs,
             data_samples: Optional[List[BaseDataElement]] = None) -> dict:
        """Teacher on its modality, student on its own, then distill."""
        teacher_inputs = self._modality(batch_inputs, self.teacher_modality)
        student_inputs = self._modality(batch_inputs, self.student_modality)
        losses = dict()

        self.distiller.set_deliveries_override(False)
        if self.teacher_cache is not None:
            cache = self.teacher_cache
            hits = cache.hits
            cache(self.teacher, self.distiller.teacher_recorders,
                  teacher_inputs, data_samples, self._frozen_teacher_forward)
            losses['teacher_cache.hit_rate'] = torch.tensor(
                (cache.hits - hits) / teacher_inputs.shape[0],
                device=teacher_inputs.device)
        elif self.teacher_trainable:
            with self.distiller.teacher_recorders, self.distiller.deliveries:
                teacher_losses = self.teacher(
                    teacher_inputs, data_samples, mode='loss')
            losses.update(add_prefix(teacher_losses, 'teacher'))
        else:
            self._frozen_teacher_forward(teacher_inputs, data_samples)

        self.distiller.set_deliveries_override(True)
        with self.distiller.student_recorders, self.distiller.deliveries:
            if self.calculate_student_loss:
                student_losses = self.student(
                    student_inputs, data_samples, mode='loss')
                losses.update(add_prefix(student_losses, 'student'))
            else:
                self.student(student_inputs, data_samples, mode='tensor')

        if not self.distillation_stopped:
            if self._distiller_takes_labels:
                distill_losses = self.distiller.compute_distill_losses(
                    gt_label=gt_labels_of(data_samples))
            else:
                distill_losses = self.distiller.compute_distill_losses()
            losses.update(add_prefix(distill_losses, 'distill'))
        return losses

    def _frozen_teacher_forward(
            self, teacher_inputs: torch.Tensor,
            data_samples: Optional[List[BaseDataElement]]) -> torch.Tensor:
        """The frozen teacher's 'tensor' output, its records recorded."""
        with self.distiller.teacher_recorders, self.distiller.deliveries:
            with torch.no_grad():
                # 'tensor' mode: the recorders need the forward pass only,
                # not the teacher's (discarded) task loss
                return self.teacher(
                    teacher_inputs, data_samples, mode='tensor')

    def train(self, mode: bool = True) -> 'CrossModalDistill':
        """A frozen teacher stays in eval mode as a whole (norms, dropout)."""
        super().train(mode)
        if mode and not self.teacher_trainable:
            self.teacher.eval()
        return self

    def _forward(self, inputs: Inputs, data_samples=None):
        return self.architecture(
            self._modality(inputs, self.student_modality),
            data_samples,
            mode='tensor')

    def _predict(self, inputs: Inputs, data_samples=None):
        return self.architecture(
            self._modality(inputs, self.student_modality),
            data_samples,
            mode='predict')

    @torch.no_grad()
    def teacher_predict(self,
                        inputs: Inputs,
                        data_samples: Optional[List] = None) -> list:
        """Predictions of the teacher on its own modality (for validation)."""
        return self.teacher(
            self._modality(inputs, self.teacher_modality),
            data_samples,
            mode='predict')
