"""Validation and test loops for cross-modal distillation.

MMRazor's ``SingleTeacherDistillValLoop`` feeds the teacher the student's
batch. Here the student is evaluated on its own modality by the usual
``val_step``, and the teacher on *its* modality through
``CrossModalDistill.teacher_predict``; the teacher's metrics are added with
the prefix ``teacher/``. A frozen teacher never changes, so by default it is
evaluated once and its metrics are repeated afterwards; a trainable one
(DML, C2KD) is evaluated every time.
"""
import copy
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.evaluator import Evaluator
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop, autocast
from mmengine.runner.loops import _parse_losses
from torch.utils.data import DataLoader

from fdkd_plugin.registry import LOOPS

__all__ = [
    'CrossModalValLoop', 'CrossModalTestLoop', 'BidirectionalValLoop',
    'BidirectionalTestLoop'
]

_WHEN = ('once', 'always', 'never')


class _TeacherEvalMixin:
    """Evaluates ``model.teacher_predict`` with the loop's evaluator."""

    runner: object
    dataloader: DataLoader
    evaluator: Evaluator
    fp16: bool

    def _init_teacher_eval(self, evaluate_teacher: Optional[str]) -> None:
        if evaluate_teacher is not None and evaluate_teacher not in _WHEN:
            raise ValueError(f'evaluate_teacher={evaluate_teacher!r} must be '
                             f'one of {_WHEN} or None')
        self._evaluate_teacher = evaluate_teacher
        self._teacher_metrics: Optional[Dict[str, float]] = None

    @property
    def _algorithm(self):
        model = self.runner.model  # type: ignore[attr-defined]
        return model.module if is_model_wrapper(model) else model

    def _teacher_due(self) -> bool:
        algorithm = self._algorithm
        if not hasattr(algorithm, 'teacher_predict'):
            return False
        when = self._evaluate_teacher
        if when is None:  # default: follow whether the teacher can change
            when = 'always' if algorithm.teacher_trainable else 'once'
        return when == 'always' or (when == 'once'
                                    and self._teacher_metrics is None)

    @torch.no_grad()
    def _add_teacher_metrics(self, metrics: dict) -> dict:
        if self._teacher_due():
            algorithm = self._algorithm
            algorithm.eval()
            for data_batch in self.dataloader:
                data = algorithm.data_preprocessor(data_batch, False)
                with autocast(enabled=self.fp16):
                    outputs = algorithm.teacher_predict(**data)
                self.evaluator.process(
                    data_samples=outputs, data_batch=data_batch)
            teacher = self.evaluator.evaluate(len(self.dataloader.dataset))
            self._teacher_metrics = {
                f'teacher/{k}': v
                for k, v in teacher.items()
            }
        if self._teacher_metrics:
            metrics.update(self._teacher_metrics)
        return metrics


@LOOPS.register_module()
class CrossModalValLoop(_TeacherEvalMixin, ValLoop):
    """Validate the student (its modality) and, once, the teacher (its own).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The validation data loader.
        evaluator (Evaluator | dict | list): The metrics.
        fp16 (bool): Validate under autocast. Defaults to False.
        evaluate_teacher (str, optional): ``'once'``, ``'always'``,
            ``'never'``; None (default) means ``'always'`` for a trainable
            teacher and ``'once'`` for a frozen one.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 fp16: bool = False,
                 evaluate_teacher: Optional[str] = None) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self._init_teacher_eval(evaluate_teacher)

    def run(self) -> dict:
        """Run the student's validation, then add the teacher's metrics."""
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        self.runner.model.eval()
        self.val_loss.clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if self.val_loss:
            metrics.update(_parse_losses(self.val_loss, 'val'))
        metrics = self._add_teacher_metrics(metrics)
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics


@LOOPS.register_module()
class CrossModalTestLoop(_TeacherEvalMixin, TestLoop):
    """Test the student and the teacher, each on its own modality.

    Args are those of :class:`CrossModalValLoop`; ``evaluate_teacher``
    defaults to evaluating the teacher once.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 fp16: bool = False,
                 evaluate_teacher: Optional[str] = 'once') -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self._init_teacher_eval(evaluate_teacher)

    def run(self) -> dict:
        """Run the student's test, then add the teacher's metrics."""
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        self.test_loss.clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if self.test_loss:
            metrics.update(_parse_losses(self.test_loss, 'test'))
        metrics = self._add_teacher_metrics(metrics)
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics


class _DirectionsEvalMixin(_TeacherEvalMixin):
    """Evaluates every direction of ``fdkd.BidirectionalCrossModalDistill``.

    One pass over the data gives each student's predictions
    (``predict_all``) to its own copy of the evaluator; metrics come as
    ``{direction}/{metric}``, their mean over the directions as
    ``mean/{metric}`` (select a checkpoint on either), and each frozen
    teacher's, evaluated once, as ``{direction}/teacher/{metric}``.
    """

    def _evaluate_directions(self, phase: str) -> dict:
        algorithm = self._algorithm
        names = list(algorithm.direction_names)
        evaluators = {name: copy.deepcopy(self.evaluator) for name in names}
        for idx, data_batch in enumerate(self.dataloader):
            self.runner.call_hook(
                f'before_{phase}_iter', batch_idx=idx, data_batch=data_batch)
            data = algorithm.data_preprocessor(data_batch, False)
            with autocast(enabled=self.fp16):
                outputs = algorithm.predict_all(**data)
            for name in names:
                evaluators[name].process(
                    data_samples=outputs[name], data_batch=data_batch)
            self.runner.call_hook(
                f'after_{phase}_iter',
                batch_idx=idx,
                data_batch=data_batch,
                outputs=outputs[names[0]])
        size = len(self.dataloader.dataset)
        per = {name: evaluators[name].evaluate(size) for name in names}
        metrics = {}
        for name in names:
            metrics.update({f'{name}/{k}': v for k, v in per[name].items()})
        for key in per[names[0]]:
            values = [per[name].get(key) for name in names]
            if all(isinstance(v, (int, float)) for v in values):
                metrics[f'mean/{key}'] = sum(values) / len(values)
        # each frozen teacher once, through the single-direction code path
        # (_algorithm is that direction meanwhile)
        done = self.__dict__.setdefault('_direction_teachers', {})
        for name in names:
            self._direction = algorithm.directions[name]
            self._teacher_metrics = done.get(name)
            try:
                found = self._add_teacher_metrics({})
            finally:
                self._direction = None
            done[name] = self._teacher_metrics
            metrics.update({f'{name}/{k}': v for k, v in found.items()})
        return metrics

    @property
    def _algorithm(self):
        direction = getattr(self, '_direction', None)
        if direction is not None:
            return direction
        model = self.runner.model  # type: ignore[attr-defined]
        return model.module if is_model_wrapper(model) else model


@LOOPS.register_module()
class BidirectionalValLoop(_DirectionsEvalMixin, CrossModalValLoop):
    """Validate every student of ``fdkd.BidirectionalCrossModalDistill``.

    Metrics: ``{direction}/{metric}``, ``mean/{metric}`` and
    ``{direction}/teacher/{metric}`` (see :class:`_DirectionsEvalMixin`);
    select the checkpoint with e.g. ``default_hooks.checkpoint.save_best=
    'mean/accuracy/top1'`` or ``'a_from_v/accuracy/top1'``. Args are those
    of :class:`CrossModalValLoop`.
    """

    def run(self) -> dict:
        """Validate all students in one pass, then their teachers."""
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        self.runner.model.eval()
        metrics = self._evaluate_directions('val')
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics


@LOOPS.register_module()
class BidirectionalTestLoop(_DirectionsEvalMixin, CrossModalTestLoop):
    """Test every student (and teacher) of a bidirectional model; metrics
    as :class:`BidirectionalValLoop`."""

    def run(self) -> dict:
        """Test all students in one pass, then their teachers."""
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        metrics = self._evaluate_directions('test')
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics
