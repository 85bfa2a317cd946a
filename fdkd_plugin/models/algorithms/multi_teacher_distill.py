"""One student, several teachers: ``fdkd.MultiTeacherDistill``."""
from contextlib import ExitStack
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from mmrazor.models.utils import add_prefix
from torch import nn

from fdkd_plugin.registry import MODELS
from ..data_preprocessors import paired_preprocessor_cfg
from .cross_modal_distill import CrossModalDistill
from .model_checks import batch_norm_guard, check_labels, gt_labels_of
from .zoo import is_zoo_cfg, zoo_network_cfg

__all__ = ['MultiTeacherDistill']

Inputs = Dict[str, torch.Tensor]


@MODELS.register_module()
class MultiTeacherDistill(BaseModel):
    """Distill several teachers (of one or several modalities) into one
    student.

    Each entry of ``teachers`` is a ``fdkd.CrossModalDistill`` config
    without the student (``teacher``, ``teacher_modality``,
    ``teacher_ckpt``, ``distiller``, ``teacher_cache`` ...) plus a
    ``weight``; all of them share the one ``architecture``. A training step
    runs every teacher side (frozen, trainable or cached, as each entry
    says), ONE student forward with every entry's student recorders
    attached, and each entry's distill losses, scaled by its weight over
    the sum of the weights: FDKD's terms are averaged over the teachers,
    and MMRazor losses run per teacher the same way. The losses are logged
    per teacher (``distill.visual.loss_low``); the student's own loss once
    (``student.loss``).

    Args:
        architecture (dict | BaseModel): The student (a config, a built
            model or ``dict(cfg_path=...)``).
        student_modality (str): The student's input.
        teachers (dict): ``{name: dict(teacher=..., teacher_modality=...,
            distiller=..., weight=1.0, ...)}``; names without ``.`` or
            ``/``.
        data_preprocessor (dict, optional): Defaults to
            ``fdkd.MultiModalDataPreprocessor`` with every network's
            normalization.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 architecture: Union[Dict, BaseModel],
                 student_modality: str,
                 teachers: Dict[str, Dict],
                 data_preprocessor: Optional[Dict] = None,
                 init_cfg: Optional[Dict] = None) -> None:
        if not isinstance(teachers, dict) or not teachers:
            raise ValueError(f'teachers={teachers!r} must be a non-empty '
                             'dict of name -> teacher config')
        if is_zoo_cfg(architecture):
            architecture = zoo_network_cfg(architecture, student_modality,
                                           'model.architecture')
        student = MODELS.build(architecture) if isinstance(
            architecture, dict) else architecture
        built, weights = nn.ModuleDict(), {}
        for name, cfg in teachers.items():
            if not isinstance(name, str) or not name or '.' in name \
                    or '/' in name:
                raise ValueError(f'teacher name {name!r} must be a '
                                 "non-empty str without '.' or '/'")
            cfg = dict(cfg)
            weight = cfg.pop('weight', 1.0)
            if not isinstance(weight, (int, float)) or weight <= 0:
                raise ValueError(f'model.teachers.{name}.weight={weight!r} '
                                 'must be a number > 0')
            for key in ('architecture', 'student_modality'):
                if key in cfg:
                    raise ValueError(f'model.teachers.{name}.{key}: the '
                                     'student is the algorithm\'s own; set '
                                     f'model.{key} once')
            cfg.setdefault('type', 'fdkd.CrossModalDistill')
            cfg.setdefault('cfg_prefix', f'model.teachers.{name}')
            built[name] = MODELS.build(
                dict(cfg, architecture=student,
                     student_modality=student_modality))
            if not isinstance(built[name], CrossModalDistill):
                raise TypeError(f'model.teachers.{name} is a '
                                f'{type(built[name]).__name__}, not a '
                                'CrossModalDistill')
            weights[name] = float(weight)
        super().__init__(
            data_preprocessor=paired_preprocessor_cfg(
                data_preprocessor, *built.values()),
            init_cfg=init_cfg)
        self.student = student
        self.student_modality = student_modality
        self.teachers = built
        total = sum(weights.values())
        #: each teacher's share of the distill losses (they sum to 1)
        self.shares = {name: w / total for name, w in weights.items()}

    def loss(self, inputs: Inputs,
             data_samples: Optional[List[BaseDataElement]] = None) -> dict:
        """Every teacher side, one student forward, each teacher's distill
        losses weighted by its share."""
        first = next(iter(self.teachers.values()))
        student_inputs = first._modality(inputs, self.student_modality)
        gt_label = gt_labels_of(data_samples)
        check_labels(gt_label, first.num_classes, data_samples,
                     first._num_classes_key)
        losses = dict()
        with batch_norm_guard():
            for name, algo in self.teachers.items():
                side = algo._teacher_phase(
                    algo._modality(inputs, algo.teacher_modality),
                    data_samples)
                losses.update(add_prefix(side, name))
            with ExitStack() as stack:
                for algo in self.teachers.values():
                    algo.distiller.set_deliveries_override(True)
                    stack.enter_context(algo.distiller.student_recorders)
                    stack.enter_context(algo.distiller.deliveries)
                student_losses = self.student(
                    student_inputs, data_samples, mode='loss')
            losses.update(add_prefix(student_losses, 'student'))
            for name, algo in self.teachers.items():
                algo._per_clip(self.student,
                               algo.distiller.student_recorders,
                               student_inputs)
                for key, value in algo._distill_phase(gt_label).items():
                    head, rest = key.split('.', 1)  # 'distill', 'loss_low'
                    losses[f'{head}.{name}.{rest}'] = \
                        value * self.shares[name]
        return losses

    def forward(self,
                inputs: Inputs,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """``'loss'``: :meth:`loss`; ``'predict'`` / ``'tensor'``: the
        student on its modality."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode not in ('predict', 'tensor'):
            raise RuntimeError(f'Invalid mode "{mode}"')
        first = next(iter(self.teachers.values()))
        return self.student(
            first._modality(inputs, self.student_modality), data_samples,
            mode=mode)

    def train(self, mode: bool = True) -> 'MultiTeacherDistill':
        """Each frozen teacher stays in eval mode."""
        super().train(mode)
        for algo in self.teachers.values():
            algo.train(mode)
        return self
