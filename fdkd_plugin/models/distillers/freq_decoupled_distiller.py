"""The FDKD distiller: frequency-decoupled feature distillation with shared
classifiers (paper §4, Eq. 1-11)."""
import copy
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from fdkd_plugin.frequency import (band_bins, frequency_split,
                                   split_cutoff_range)
from fdkd_plugin.registry import MODELS
from .labelled_distiller import LabelledDistiller, LossResults

__all__ = ['FreqDecoupledDistiller']


@MODELS.register_module()
class FreqDecoupledDistiller(LabelledDistiller):
    r"""Frequency-decoupled cross-modal distillation (FDKD).

    From the recorded student feature :math:`X^s` and teacher feature
    :math:`X^t` (pre-ReLU output of the last stage, paper A.3) it computes

    - the split (Eq. 1-3, :func:`fdkd_plugin.frequency.frequency_split`):
      :math:`X = X_{low} + X_{high} (+ DC)`, a 1-D rfft over the channels of
      pooled ``(N, D)`` features, or a 2-D radial split of ``(N, C, H, W)``
      maps when ``pool=False``;
    - ``loss_low`` = :math:`\lambda_1 L_{low}` (Eq. 8, ``fdkd.StdMSELoss``),
      ``loss_high`` = :math:`\lambda_2 L_{high}` (Eq. 9, ``fdkd.LogMSELoss``);
    - ``loss_align_{band}_{student,teacher}``: Eq. 10, cross-entropy of one
      shared classifier :math:`\Phi_{band}` (``fdkd.SharedHead``) on the
      student's and on the teacher's band feature;
    - ``loss_task_{band}``: the student's cross-entropy on its low and high
      features through its own classifiers (the part of :math:`L_{task}`
      beyond the student's head, whose loss the algorithm logs as
      ``student.loss``).

    Their sum with the student's task loss is Eq. 11. Every row of the
    paper's Table 3 and Table 4 is a switch:

    ============= =============================================================
    switch        effect when False
    ============= =============================================================
    freq          no split: one feature loss on the raw feature ("Feat"
                  baseline); the shared head acts on the raw feature, and no
                  extra task head is added (the raw feature's task loss is the
                  student's own head); use_low / use_high must stay True
    align         no shared classifiers (L_align = 0)
    scale         no standardization (Eq. 4/5 instead of Eq. 8/9)
    log           MSE instead of LogMSE on the high band
    use_low       no L_low (Table 4, "High" row)
    use_high      no L_high (Table 4, "Low" row)
    teacher_terms no term that reads the teacher: no L_low / L_high, and
                  L_align on the student's side only; L_task on the bands
                  stays.
                  The "heads only" control: what FDKD gains without any
                  knowledge from the teacher (``model.control=
                  'no_teacher_terms'`` of ``fdkd.CrossModalDistill`` sets it)
    ============= =============================================================

    Args:
        num_classes (int): Classes of the shared and task classifiers.
        in_channels (int): Width D (or C) of the teacher feature, the common
            width of both.
        student_recorders (dict): MMRazor recorders on the student.
        teacher_recorders (dict): MMRazor recorders on the teacher.
        student_feat (dict): Where the student feature is recorded:
            ``recorder`` name, optional ``record_idx`` / ``data_idx`` as in
            MMRazor's mappings. Defaults to ``dict(recorder='feat')``.
        teacher_feat (dict): Same for the teacher.
        student_connector (dict, optional): A connector applied to the
            student feature, e.g. one that maps it to ``in_channels`` when
            the widths differ, ``dict(type='mmrazor.TorchNNConnector',
            module_name='Linear', module_args=dict(in_features=768,
            out_features=1280))``. Defaults to None (the feature as
            recorded).
        teacher_connector (dict, optional): The same for the teacher
            feature. Defaults to None.

            Both connectors see the recorded feature after pooling when
            ``pool=True`` (``(N, C)``), the map ``(N, C, H, W)`` otherwise,
            and run before the shape check and the split.
        pool (bool): Global-average-pool ``(N, C, H, W)`` records to
            ``(N, C)`` before splitting (classification). Defaults to True.
        resize (str, optional): Without ``pool``, interpolate the student
            map (after its connector) to the teacher map's ``(H, W)`` with
            this ``F.interpolate`` mode (``'bilinear'``) when they differ,
            e.g. decode heads of different output strides. Defaults to None
            (maps must match).
        cutoff (float): Low-band share of the spectrum (see
            :func:`frequency_split`); 0.5 = rfft bins 1..D/4 of D/2. A band
            that the config uses must hold at least one rfft bin
            (:func:`fdkd_plugin.frequency.band_bins`): ``D >= 4`` and
            ``0.5 / (D // 2) <= cutoff < 1 - 0.5 / (D // 2)``. Otherwise
            the build (``pool=True``: ``D = in_channels``) or the first
            call with that map size (``pool=False``) raises a ValueError
            naming the size and the cut-off, instead of distilling a band
            that is identically zero.
        keep_dc (bool): Keep the DC bin (the feature mean) in the low band.
            Defaults to False, the paper's DC filter.
        freq, align, scale, log, use_low, use_high (bool): The ablation
            switches above. All True = the full method.
        task_heads (bool): Add the student's low/high task classifiers.
        teacher_terms (bool): Compute the terms that read the teacher
            (see the table). Defaults to True.
        lambda_low (float): :math:`\lambda_1`. Defaults to 1.
        lambda_high (float): :math:`\lambda_2`. Defaults to 1.
        align_weight (float): Weight of each L_align term. Defaults to 1.
        task_weight (float): Weight of each low/high task term.
        reduction (str): ``'mean'`` (the paper's 1/(N·D)) or
            ``'sum_per_sample'``; passed to both feature losses.
        head (dict): Extra config of each ``fdkd.SharedHead`` (e.g.
            ``act=None`` or ``dropout``).
        feature (str, optional): ``'auto'``: ``fdkd.CrossModalDistill``
            finds each side's feature by tracing its network (the last
            stage's pre-activation feature, paper A.3) and fills the
            recorders, ``in_channels``, ``num_classes`` and a projection of
            the student feature when the widths differ
            (:mod:`fdkd_plugin.models.algorithms.auto_feature`). Defaults to
            None: the recorders as given.
        **kwargs: ``ConfigurableDistiller`` arguments: more MMRazor
            ``distill_losses`` with ``loss_forward_mappings``, connectors,
            deliveries.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 student_recorders: Optional[Dict] = None,
                 teacher_recorders: Optional[Dict] = None,
                 student_feat: Optional[Dict] = None,
                 teacher_feat: Optional[Dict] = None,
                 student_connector: Optional[Dict] = None,
                 teacher_connector: Optional[Dict] = None,
                 pool: bool = True,
                 resize: Optional[str] = None,
                 cutoff: float = 0.5,
                 keep_dc: bool = False,
                 freq: bool = True,
                 align: bool = True,
                 scale: bool = True,
                 log: bool = True,
                 use_low: bool = True,
                 use_high: bool = True,
                 task_heads: bool = True,
                 teacher_terms: bool = True,
                 lambda_low: float = 1.0,
                 lambda_high: float = 1.0,
                 align_weight: float = 1.0,
                 task_weight: float = 1.0,
                 reduction: str = 'mean',
                 head: Optional[Dict] = None,
                 feature: Optional[str] = None,
                 **kwargs) -> None:
        if feature is not None:
            raise ValueError(
                f"feature={feature!r} is resolved by fdkd.CrossModalDistill "
                "(feature='auto' traces both networks there); build this "
                'distiller through it, or give the recorders, in_channels '
                'and num_classes yourself')
        super().__init__(
            student_recorders=student_recorders,
            teacher_recorders=teacher_recorders,
            **kwargs)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f'num_classes={num_classes!r} must be an int '
                             '>= 2')
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f'in_channels={in_channels!r} must be a '
                             'positive int')
        if not 0 < cutoff < 1:
            raise ValueError(f'cutoff={cutoff} must be in (0, 1)')
        if log and not freq:
            raise ValueError('log=True needs freq=True: LogMSE acts on the '
                             'high band; set log=False with freq=False')
        if not freq and not (use_low and use_high):
            raise ValueError('use_low / use_high pick bands of the frequency '
                             'split; with freq=False there is one raw band')
        if freq and not (use_low or use_high or align or task_heads):
            raise ValueError('freq=True with use_low, use_high, align and '
                             'task_heads all False distills nothing')
        for name, value in (('lambda_low', lambda_low), ('lambda_high',
                                                         lambda_high),
                            ('align_weight', align_weight), ('task_weight',
                                                             task_weight)):
            if value < 0:
                raise ValueError(f'{name}={value} must be >= 0')

        self.student_feat = {'recorder': 'feat', **(student_feat or {})}
        self.teacher_feat = {'recorder': 'feat', **(teacher_feat or {})}
        for side, info, manager in (
            ('student', self.student_feat, self.student_recorders),
            ('teacher', self.teacher_feat, self.teacher_recorders)):
            if info['recorder'] not in manager.recorders:
                raise ValueError(
                    f'{side}_feat recorder {info["recorder"]!r} is not in '
                    f'{side}_recorders ({sorted(manager.recorders)})')

        self.num_classes = num_classes
        self.in_channels = in_channels
        self.pool = pool
        if resize not in (None, 'nearest', 'bilinear', 'bicubic'):
            raise ValueError(f'resize={resize!r} must be None, nearest, '
                             'bilinear or bicubic')
        self.resize = resize
        self.cutoff = cutoff
        self.keep_dc = keep_dc
        self.freq = freq
        self.teacher_terms = bool(teacher_terms)
        self.align_weight = align_weight
        self.task_weight = task_weight

        self.student_connector = MODELS.build(student_connector) \
            if student_connector is not None else None
        self.teacher_connector = MODELS.build(teacher_connector) \
            if teacher_connector is not None else None

        bands = ('low', 'high') if freq else ('raw', )
        low_cfg = dict(
            type='fdkd.StdMSELoss',
            loss_weight=lambda_low,
            standardize=scale,
            reduction=reduction)
        high_cfg = dict(
            type='fdkd.LogMSELoss' if log else 'fdkd.StdMSELoss',
            loss_weight=lambda_high,
            standardize=scale,
            reduction=reduction)
        self.feature_losses = nn.ModuleDict()
        if freq:
            if use_low:
                self.feature_losses['low'] = MODELS.build(low_cfg)
            if use_high:
                self.feature_losses['high'] = MODELS.build(high_cfg)
        else:
            self.feature_losses['raw'] = MODELS.build(low_cfg)

        head_cfg = dict(type='fdkd.SharedHead', **(head or {}))
        head_cfg.update(in_channels=in_channels, num_classes=num_classes)
        self.align_heads = nn.ModuleDict({
            band: MODELS.build(copy.deepcopy(head_cfg))
            for band in bands
        }) if align else nn.ModuleDict()
        # the student's own classifiers of its low / high features; a
        # SharedHead used from one side only is a plain ReLU + Linear
        self.task_heads = nn.ModuleDict({
            band: MODELS.build(copy.deepcopy(head_cfg))
            for band in bands
        }) if (task_heads and freq) else nn.ModuleDict()
        # sizes whose bands were found non-empty; pooled features have
        # width in_channels (checked against the record in _check_shapes)
        self._split_sizes_checked = set()
        if freq and pool:
            self._check_bands(in_channels)

    # ------------------------------------------------------------------
    def _recorded(self, info: Dict, from_student: bool) -> torch.Tensor:
        feat = self.get_record(
            info['recorder'],
            from_student,
            record_idx=info.get('record_idx', 0),
            data_idx=info.get('data_idx'))
        if self.pool and feat.dim() > 2:
            feat = feat.flatten(2).mean(-1)  # (N, C, H, W) -> (N, C)
        return feat

    def _check_shapes(self, student: torch.Tensor,
                      teacher: torch.Tensor) -> None:
        if student.shape != teacher.shape:
            hint = ('set distiller.student_connector to map the student '
                    'feature to the teacher width, e.g. dict(type='
                    "'mmrazor.TorchNNConnector', module_name='Linear', "
                    f'module_args=dict(in_features={student.shape[1]}, '
                    f'out_features={teacher.shape[1]}))'
                    if student.shape[0] == teacher.shape[0] else
                    'teacher and student must see the same batch (one row '
                    'per sample; fdkd.CrossModalDistill averages the '
                    'per-frame records of fdkd.MultiFrameBackbone per clip)')
            raise ValueError(
                f'recorded student feature {tuple(student.shape)} and '
                f'teacher feature {tuple(teacher.shape)} differ: {hint}')
        if teacher.shape[1] != self.in_channels:
            raise ValueError(
                f'recorded features have width {teacher.shape[1]} but '
                f'distiller.in_channels={self.in_channels}; set '
                f'in_channels={teacher.shape[1]}')

    def _check_bands(self, size) -> None:
        """Raise ValueError if a band this distiller uses holds no rfft bin
        for features of ``size`` (``D``, or ``(H, W)`` of a map)."""
        if size in self._split_sizes_checked:
            return
        bins = dict(zip(('low', 'high'), band_bins(size, self.cutoff)))
        used = [
            band for band in ('low', 'high')
            if band in self.feature_losses or band in self.align_heads
            or band in self.task_heads
        ]
        empty = [band for band in used if bins[band] == 0]
        if empty:
            if isinstance(size, int):
                what = (f'features of width D={size} (distiller.in_channels'
                        f'={self.in_channels})')
                need = 'use features of D >= 4 values'
            else:
                what = f'feature maps of size {size[0]}x{size[1]} (H x W)'
                need = 'use larger maps or pool=True'
            valid = split_cutoff_range(size)
            fix = (f'set cutoff in [{valid[0]:.4g}, {valid[1]:.4g})'
                   if valid is not None else need)
            raise ValueError(
                f'FreqDecoupledDistiller: {what} with cutoff={self.cutoff} '
                f'leave the {" and ".join(empty)} band empty (rfft bins: '
                f'{bins["low"]} low, {bins["high"]} high): the feature is '
                f'too short to split at this cut-off and every '
                f'{"/".join(empty)} term would be identically zero; {fix}, '
                f'or set freq=False (distill the raw feature)')
        self._split_sizes_checked.add(size)

    def _split(self, student: torch.Tensor, teacher: torch.Tensor
               ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """Band features of both sides, from one transform of the pair."""
        if not self.freq:
            return dict(raw=student), dict(raw=teacher)
        self._check_bands(student.shape[1] if student.dim() ==
                          2 else tuple(student.shape[2:]))
        n = student.shape[0]
        parts = frequency_split(
            torch.cat([student, teacher]),  # (2N, ...)
            cutoff=self.cutoff,
            keep_dc=self.keep_dc)
        return (dict(low=parts.low[:n], high=parts.high[:n]),
                dict(low=parts.low[n:], high=parts.high[n:]))

    def _align_losses(self, band: str, student: torch.Tensor,
                      teacher: torch.Tensor,
                      gt_label: torch.Tensor) -> LossResults:
        """Eq. 10 for one band: the shared head's CE on each side."""
        head = self.align_heads[band]
        n = student.shape[0]
        if not self.teacher_terms:  # the student's side only
            logits_s = head(student, side='student')
            return {
                f'loss_align_{band}_student':
                self.align_weight * F.cross_entropy(logits_s, gt_label)
            }
        if len(head.projections):  # per-side projections: two passes
            logits_s = head(student, side='student')
            logits_t = head(teacher, side='teacher')
            ce_s = F.cross_entropy(logits_s, gt_label)
            ce_t = F.cross_entropy(logits_t, gt_label)
        else:  # the same weights see both: one pass over the pair
            logits = head(torch.cat([student, teacher]))  # (2N, classes)
            ce = F.cross_entropy(
                logits, gt_label.repeat(2), reduction='none')  # (2N, )
            ce_s, ce_t = ce[:n].mean(), ce[n:].mean()
        return {
            f'loss_align_{band}_student': self.align_weight * ce_s,
            f'loss_align_{band}_teacher': self.align_weight * ce_t,
        }

    def compute_distill_losses(
            self, gt_label: Optional[torch.Tensor] = None) -> LossResults:
        """All FDKD losses (and any configured MMRazor ``distill_losses``).

        Args:
            gt_label (Tensor, optional): ``(N,)`` class labels; needed when
                ``align`` or task heads are on. ``CrossModalDistill`` passes
                them explicitly.

        Returns:
            dict[str, Tensor]: ``loss_low``, ``loss_high`` (or ``loss_raw``),
            ``loss_align_{band}_{student,teacher}``, ``loss_task_{band}``
            and the MMRazor losses.
        """
        losses = super().compute_distill_losses(gt_label)
        student = self._recorded(self.student_feat, from_student=True)
        teacher = self._recorded(self.teacher_feat, from_student=False)
        # connectors after pooling
        if self.student_connector is not None:
            student = self.student_connector(student)
        if self.teacher_connector is not None:
            teacher = self.teacher_connector(teacher)
        if self.resize and student.dim() == 4 and \
                student.shape[2:] != teacher.shape[2:]:
            student = F.interpolate(
                student, size=teacher.shape[2:], mode=self.resize,
                **({} if self.resize == 'nearest' else
                   dict(align_corners=False)))
        self._check_shapes(student, teacher)

        student_bands, teacher_bands = self._split(student, teacher)
        for band, loss in self.feature_losses.items():
            if self.teacher_terms:
                losses[f'loss_{band}'] = loss(student_bands[band],
                                              teacher_bands[band])

        if len(self.align_heads) or len(self.task_heads):
            if gt_label is None:
                raise ValueError(
                    'FreqDecoupledDistiller needs gt_label for its align / '
                    'task heads; the batch carries none (set align=False '
                    'and task_heads=False for label-free distillation)')
            for band in self.align_heads:
                losses.update(
                    self._align_losses(band, student_bands[band],
                                       teacher_bands[band], gt_label))
            for band, head in self.task_heads.items():
                logits = head(student_bands[band], side='student')
                losses[f'loss_task_{band}'] = \
                    self.task_weight * F.cross_entropy(logits, gt_label)
        return losses
