"""Which loss term drives the student: per-term gradients on its distilled
feature, logged every N iterations.

Enable it with one line in a config (it is off by default); as an entry of
``default_hooks`` it merges with the inherited hooks, where a
``custom_hooks`` list would replace them::

    default_hooks = dict(loss_gradients=dict(type='fdkd.LossGradientHook',
                                             interval=50))

or on the command line: ``--cfg-options
default_hooks.loss_gradients.type=fdkd.LossGradientHook``.

Every ``interval`` training iterations (and at the first), each
``fdkd.CrossModalDistill`` of the model (both directions of a
bidirectional one) computes, before the optimizer step, the gradient of each
loss term with respect to the student's distilled feature
(:mod:`fdkd_plugin.gradient_shares`): its norm, its share of the summed
norms and its cosine with the total gradient. The rows go to
``{work_dir}/loss_gradients.jsonl`` (one JSON object per measurement,
appended, so a resumed run continues the file), to the visualizer's scalars
(``grad_share/<term>``, ``grad_norm/<term>``; TensorBoard or W&B when
configured) and, in short, to the log. ``tools/analysis_tools/
gradient_shares.py`` plots the file over training.

The feature is the distiller's ``student_feat`` (FDKD: the pre-ReLU
last-stage feature), or the student recorder of a distiller that has one
recorder (e.g. the logits of logit KD), or ``feature=dict(recorder=...,
record_idx=..., data_idx=...)`` naming a student recorder. The cost is one
extra backward pass per term to that feature on a measured iteration, none
on the others. In distributed training every rank measures its own batch and
rank 0's is written.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from fdkd_plugin.gradient_shares import (GradientShares, gradient_shares,
                                         loss_terms, term_gradients)
from fdkd_plugin.registry import HOOKS

__all__ = ['LossGradientHook', 'GradientProbe']


class GradientProbe:
    """Called by ``CrossModalDistill`` with its loss dict at the end of each
    training forward; measures only while ``active``."""

    def __init__(self, feature: Dict) -> None:
        self.feature = feature
        self.active = False
        self.result: Optional[GradientShares] = None

    def __call__(self, losses: Dict, distiller) -> None:
        if not self.active:
            return
        feat = distiller.get_record(
            self.feature['recorder'],
            from_student=True,
            record_idx=self.feature.get('record_idx', 0),
            data_idx=self.feature.get('data_idx'))
        self.result = gradient_shares(
            term_gradients(loss_terms(losses), feat))


def _feature_spec(distiller, feature: Optional[Dict], where: str) -> Dict:
    recorders = sorted(distiller.student_recorders.recorders)
    if feature is None:
        feature = getattr(distiller, 'student_feat', None)
    if feature is None:
        if len(recorders) != 1:
            raise ValueError(
                f'LossGradientHook: the distiller of {where} has the student '
                f'recorders {recorders}; say which one holds the distilled '
                "feature: LossGradientHook(feature=dict(recorder='NAME'))")
        feature = dict(recorder=recorders[0])
    feature = dict(feature)
    if feature.get('recorder') not in recorders:
        raise ValueError(
            f'LossGradientHook: feature recorder '
            f'{feature.get("recorder")!r} is not a student recorder of '
            f'{where} ({recorders})')
    return feature


@HOOKS.register_module()
class LossGradientHook(Hook):
    """Log each loss term's gradient on the student's distilled feature.

    Args:
        interval (int): Measure every ``interval`` training iterations (and
            at the first). Defaults to 50.
        feature (dict, optional): ``recorder`` (a student recorder of the
            distiller), optional ``record_idx`` / ``data_idx``. Defaults to
            the distiller's ``student_feat``, or its only student recorder.
        out_file (str): File in the work dir. Defaults to
            ``'loss_gradients.jsonl'``.
        log (bool): Also write a one-line summary to the log. Defaults to
            True.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 50,
                 feature: Optional[Dict] = None,
                 out_file: str = 'loss_gradients.jsonl',
                 log: bool = True) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'LossGradientHook: interval={interval!r} must '
                             'be a positive int')
        if feature is not None and not isinstance(feature, dict):
            raise ValueError(f'LossGradientHook: feature={feature!r} must be '
                             "a dict such as dict(recorder='feat')")
        self.interval = interval
        self.feature = feature
        self.out_file = out_file
        self.log = log
        self._probes: List[Tuple[str, object, GradientProbe]] = []

    def before_train(self, runner) -> None:
        from fdkd_plugin.models.algorithms import CrossModalDistill
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._probes = []
        for name, module in model.named_modules():
            if isinstance(module, CrossModalDistill):
                where = f'model.{name}' if name else 'model'
                probe = GradientProbe(
                    _feature_spec(module.distiller, self.feature, where))
                module.gradient_probe = probe
                # a direction of a bidirectional model: its loss prefix
                self._probes.append((name.rsplit('.', 1)[-1], module, probe))
        if not self._probes:
            raise ValueError(
                'LossGradientHook needs a fdkd.CrossModalDistill model (or '
                f'one that contains it); got {type(model).__name__}')
        self.path = osp.join(runner.work_dir, self.out_file)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        active = runner.iter == 0 or self.every_n_train_iters(
            runner, self.interval)
        for _, _, probe in self._probes:
            probe.active = active
            probe.result = None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        step = runner.iter + 1
        for prefix, _, probe in self._probes:
            result, probe.result, probe.active = probe.result, None, False
            if result is None:
                continue
            name = (lambda k: f'{prefix}.{k}') if prefix else (lambda k: k)
            row = dict(
                step=step,
                epoch=runner.epoch + 1,
                feature=probe.feature,
                total_norm=result.total_norm,
                norm={name(k): v for k, v in result.norm.items()},
                share={name(k): v for k, v in result.share.items()},
                cosine={name(k): v for k, v in result.cosine.items()})
            if not is_main_process():
                continue
            with open(self.path, 'a') as f:
                f.write(json.dumps(row) + '\n')
            scalars = {f'grad_share/{k}': v for k, v in row['share'].items()}
            scalars.update(
                {f'grad_norm/{k}': v for k, v in row['norm'].items()})
            runner.visualizer.add_scalars(scalars, step=step)
            if self.log:
                top = sorted(row['share'].items(), key=lambda kv: -kv[1])
                runner.logger.info(
                    f'loss gradient shares at iter {step} on '
                    f'{probe.feature["recorder"]} (|total| '
                    f'{result.total_norm:.3g}): ' +
                    ', '.join(f'{k} {v:.3f}' for k, v in top))

    def after_train(self, runner) -> None:
        for _, module, _ in self._probes:
            module.gradient_probe = None
        self._probes = []
