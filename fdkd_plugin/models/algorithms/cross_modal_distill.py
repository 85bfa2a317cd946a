"""Single-teacher distillation where teacher and student see different
modalities of the same sample."""
import copy
import inspect
from typing import Callable, Dict, List, Optional, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from mmrazor.models.algorithms import SingleTeacherDistill
from mmrazor.models.distillers import OFDDistiller
from mmrazor.models.utils import add_prefix

from fdkd_plugin.registry import MODELS
from ..backbones.multi_frame_backbone import (average_frame_records,
                                              frames_per_clip)
from ..data_preprocessors import paired_preprocessor_cfg
from .auto_feature import auto_distiller
from .controls import check_control, drop_teacher_terms
from .model_checks import (batch_norm_guard, check_class_counts,
                           check_labels, check_teacher_ckpt_exists,
                           fill_loss_classes, gt_labels_of,
                           load_teacher_checkpoint, num_classes_of)
from .teacher_phase import TeacherPhase
from .zoo import is_zoo_cfg, zoo_network_cfg

__all__ = ['CrossModalDistill']

Inputs = Dict[str, torch.Tensor]


def scale_losses(losses: dict, factor: float) -> dict:
    """``losses`` with every entry that MMEngine sums into the total (a
    key containing ``'loss'``; a tensor or a list of them) times
    ``factor``; the others (accuracies, ...) as they are."""
    def scaled(value):
        if isinstance(value, (list, tuple)):
            return type(value)(v * factor for v in value)
        return value * factor

    return {
        k: scaled(v) if 'loss' in k else v
        for k, v in losses.items()
    }


@MODELS.register_module()
class CrossModalDistill(TeacherPhase, SingleTeacherDistill):
    """Cross-modal knowledge distillation inside MMRazor.

    MMRazor's ``SingleTeacherDistill`` feeds the teacher the student's input;
    here the batch holds both modalities of each sample, ``inputs =
    {modality: Tensor}`` (``fdkd.MultiModalDataPreprocessor`` with
    ``modality=None``), and

    - the teacher gets ``inputs[teacher_modality]``,
    - the student gets ``inputs[student_modality]``,
    - predict/tensor modes (validation, test, deployment) use the student's
      modality only.

    A distiller config with ``feature='auto'`` has its recorders,
    ``in_channels``, ``num_classes`` and any width projection filled by
    tracing both networks (:mod:`.auto_feature`).

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

    Checks at build, each an error naming the config key and the fix:

    - ``teacher_ckpt`` must exist (the message names the unimodal config
      that trains it, from the ``work_dirs/<config name>/selected.pth``
      convention), and it loads *strictly*: every key and shape of the
      teacher, nothing else (MMRazor loads with ``strict=False`` and only
      prints the mismatch). A distillation checkpoint (``architecture.*``,
      ``teacher.*``, ``distiller.*``) is refused with the
      ``tools/model_converters/extract_student.py`` command: it holds two
      networks, and which one is meant is the user's call.
    - The heads of teacher and student, and a distiller or distill loss
      with a ``num_classes``, have one class count (shared heads and logit
      KD compare the two networks' logits class by class).

    In training, labels outside ``[0, num_classes)`` and a batch of one
    sample reaching a training BatchNorm are errors naming the clip / the
    ``train_dataloader`` keys (``fdkd.DataModelCheckHook`` catches both
    before the first step).

    Args:
        architecture (dict | BaseModel): The student: a model config, a
            built model, or a model-zoo config by name,
            ``dict(cfg_path='mmpretrain::...', in_channels=..., num_classes=
            ..., **overrides)`` (:mod:`.zoo`).
        teacher (dict | BaseModel): The teacher, likewise.
        distiller (dict): The distiller config.
        student_modality (str): Key of the student's input, e.g. ``'audio'``.
        teacher_modality (str | tuple[str]): Key of the teacher's input,
            e.g. ``'visual'``; a tuple (``('audio', 'visual')``) gives a
            fused teacher the dict of those modalities.
        teacher_ckpt (str, optional): Teacher checkpoint to load.
        teacher_trainable (bool): Train the teacher too (DML, C2KD); its
            task losses are then logged as ``teacher.*``. Defaults to False:
            the teacher is frozen (no gradient) and in eval mode as a whole.
        teacher_norm_eval (bool, optional): Keep the teacher's norm layers
            in eval mode in training. Defaults to ``not teacher_trainable``:
            a trainable teacher trains its BatchNorm statistics too, as the
            official DML and C2KD codes do (``teacher.train()``); MMRazor's
            own default (True for every teacher) froze the statistics of a
            teacher whose weights change, and left a from-scratch teacher
            with mean 0 / var 1, i.e. no normalization at all.
        control (str, optional): Run a control instead of the method
            (:mod:`fdkd_plugin.models.algorithms.controls`):
            ``'untrained_teacher'`` (``teacher_ckpt`` is not loaded: the
            teacher keeps its random initialization) or
            ``'no_teacher_terms'`` (every loss term that reads the teacher
            is dropped). The results collector shows each as its own row
            under the method. Defaults to None.
        student_loss_weight (float): Factor on the student's own task
            losses (``student.*``, e.g. its head's cross-entropy), beside
            the distiller's terms. Hinton-style KD weights the hard labels
            low: RepDistiller runs KD with CE 0.1 + KL 0.9
            (``configs/_base_/baselines/logit.py``). Defaults to 1.0.
        cfg_prefix (str): Where this algorithm sits in the config, for error
            messages only: ``'model'``, or ``'model.directions.a_from_v'``
            inside ``fdkd.BidirectionalCrossModalDistill`` (which sets it).
        data_preprocessor (dict, optional): Defaults to None:
            ``fdkd.MultiModalDataPreprocessor`` keeping both modalities,
            each normalized as its network's own pre-processor config says
            (``norm_cfg``); what this config sets wins
            (:func:`~fdkd_plugin.models.data_preprocessors.
            paired_preprocessor_cfg`).
        **kwargs: Other arguments of ``SingleTeacherDistill``
            (``calculate_student_loss``, ...).
    """

    #: set by ``fdkd.LossGradientHook``: called with the loss dict at the
    #: end of each training forward (measures per-term gradients on the
    #: student's feature while the graph exists)
    gradient_probe: Optional[Callable[[dict, object], None]] = None

    def __init__(self,
                 architecture: Union[BaseModel, Dict],
                 teacher: Union[BaseModel, Dict],
                 distiller: Dict,
                 student_modality: str,
                 teacher_modality: str,
                 teacher_ckpt: Optional[str] = None,
                 teacher_trainable: bool = False,
                 teacher_norm_eval: Optional[bool] = None,
                 teacher_cache: Optional[Dict] = None,
                 data_preprocessor: Optional[Dict] = None,
                 control: Optional[str] = None,
                 student_loss_weight: float = 1.0,
                 cfg_prefix: str = 'model',
                 **kwargs) -> None:
        self.cfg_prefix = cfg_prefix
        if isinstance(student_loss_weight, bool) or not isinstance(
                student_loss_weight, (int, float)) or not \
                0 <= student_loss_weight < float('inf'):
            raise ValueError(
                f'{self._key("student_loss_weight")}='
                f'{student_loss_weight!r} must be a finite number >= 0')
        if isinstance(teacher_modality, (list, tuple)):
            teacher_modality = tuple(teacher_modality)  # a fused teacher
        for name, value in (('student_modality', student_modality),
                            ('teacher_modality', teacher_modality)):
            parts = value if isinstance(value, tuple) and \
                name == 'teacher_modality' else (value, )
            if not parts or not all(isinstance(v, str) and v
                                    for v in parts):
                raise ValueError(
                    f'{self._key(name)}={value!r} must be a non-empty str' +
                    (' or a tuple of them (a fused teacher)'
                     if name == 'teacher_modality' else ''))
        self.control = check_control(control, self._key('control'))
        if self.control == 'untrained_teacher' and teacher_ckpt:
            print_log(
                f'control untrained_teacher: {self._key("teacher_ckpt")}='
                f'{teacher_ckpt} is not loaded; the teacher keeps its '
                'random initialization',
                logger='current')
            teacher_ckpt = None
        if teacher_ckpt:
            # before anything is built: a fresh clone's first mistake
            check_teacher_ckpt_exists(teacher_ckpt, self._key('teacher_ckpt'))
        # networks named by a model-zoo config (cfg_path), then both
        # modalities, each normalized as its own network's config says
        if is_zoo_cfg(architecture):
            architecture = zoo_network_cfg(architecture, student_modality,
                                           self._key('architecture'))
        if is_zoo_cfg(teacher):
            if isinstance(teacher_modality, tuple):
                raise ValueError(f'{self._key("teacher")}.cfg_path: a model-'
                                 'zoo network takes one modality, not '
                                 f'{teacher_modality}')
            teacher = zoo_network_cfg(teacher, teacher_modality,
                                      self._key('teacher'))
        data_preprocessor = paired_preprocessor_cfg(data_preprocessor,
                                                    architecture, teacher)
        if isinstance(distiller, dict) and distiller.get('feature') == 'auto':
            architecture, teacher, distiller = self._resolve_auto_feature(
                architecture, teacher, distiller)
        resolved_distiller = copy.deepcopy(distiller)
        distiller = fill_loss_classes(distiller, architecture,
                                      self._key('distiller.distill_losses'))
        super().__init__(
            architecture=architecture,
            teacher=teacher,
            distiller=distiller,
            # loaded below, strictly (MMRazor's load is strict=False)
            teacher_ckpt=None,
            teacher_trainable=teacher_trainable,
            teacher_norm_eval=(not teacher_trainable
                               if teacher_norm_eval is None else
                               teacher_norm_eval),
            data_preprocessor=data_preprocessor,
            **kwargs)
        self.student_modality = student_modality
        self.teacher_modality = teacher_modality
        self.student_loss_weight = float(student_loss_weight)
        #: the distiller config with ``feature='auto'`` resolved to the
        #: recorders, widths and projection it chose (the config to pin)
        self.distiller_cfg: Dict = resolved_distiller
        check_class_counts(self.student, self.teacher, self.distiller,
                           self._key)
        found = num_classes_of(self.student)
        #: the student head's class count (None: no classification head)
        self.num_classes: Optional[int] = None if found is None else found[0]
        self._num_classes_key = None if found is None else self._key(
            f'architecture.{found[1]}')
        if teacher_ckpt:
            # as MMRazor: initialize first, so that the runner's later
            # init_weights() does not overwrite the loaded weights
            self.teacher.init_weights()
            load_teacher_checkpoint(self.teacher, teacher_ckpt,
                                    self._key('teacher_ckpt'),
                                    self._key('teacher'))
        if self.control == 'no_teacher_terms':
            drop_teacher_terms(self.distiller)
        self._distiller_takes_labels = 'gt_label' in inspect.signature(
            self.distiller.compute_distill_losses).parameters
        self.teacher_cache = self._build_teacher_cache(teacher_cache)
        if isinstance(self.distiller, OFDDistiller):
            # OFD's teacher margins come from the (loaded) teacher's BN, set
            # by mmrazor's OverhaulFeatureDistillation at build: do the same
            self.distiller.init_ofd_connectors(self.teacher)

    def _resolve_auto_feature(self, architecture, teacher,
                              distiller: Dict) -> tuple:
        """Trace both networks for the distiller's ``feature='auto'``
        (:mod:`.auto_feature`), drawing the initial weights as with
        explicit recorders: MMRazor builds the student, then the distiller,
        then the teacher. The student is built here, first, as MMRazor would
        (and handed on built); a teacher config is traced on a copy built
        with the RNG state restored afterwards, and goes on to be built
        where MMRazor builds it."""
        student = MODELS.build(architecture) if isinstance(
            architecture, dict) else architecture
        teacher_net = teacher
        if isinstance(teacher, dict):
            with torch.random.fork_rng(devices=[]):
                teacher_net = MODELS.build(copy.deepcopy(teacher))
        found = num_classes_of(student) or num_classes_of(teacher_net)
        distiller = auto_distiller(distiller, student, teacher_net,
                                   None if found is None else found[0],
                                   self._key('distiller'))
        return student, teacher, distiller

    def _key(self, name: str) -> str:
        """The config key of one of this algorithm's arguments."""
        return f'{self.cfg_prefix}.{name}'

    def _modality(self, inputs: Union[Inputs, torch.Tensor],
                  key: Union[str, tuple]) -> Union[torch.Tensor, Inputs]:
        """One modality's tensor, or for a fused teacher (a tuple of
        modalities) the dict of those."""
        if isinstance(key, tuple):
            return {k: self._modality(inputs, k) for k in key}
        if not isinstance(inputs, dict):
            raise TypeError(
                f'{type(self).__name__} needs paired inputs as a '
                '{modality: tensor} dict; set data_preprocessor='
                "dict(type='fdkd.MultiModalDataPreprocessor') (no modality)")
        if key not in inputs:
            arg = 'student_modality' if key == self.student_modality \
                else 'teacher_modality'
            if isinstance(self.teacher_modality, tuple) and \
                    arg == 'teacher_modality':
                key = self.teacher_modality
            raise KeyError(f'{self._key(arg)}={key!r} is not in the batch, '
                           f'which holds {sorted(inputs)}: set it to one of '
                           'those, or add it to the pipeline\'s '
                           'PackMultiModalInputs(modalities=...)')
        return inputs[key]

    def loss(self,
             batch_inputs: Inputs,
             data_samples: Optional[List[BaseDataElement]] = None) -> dict:
        """Teacher on its modality, student on its own, then distill."""
        student_inputs = self._modality(batch_inputs, self.student_modality)
        if self.teacher_cache is not None and isinstance(
                batch_inputs, dict) and \
                self.teacher_modality not in batch_inputs:
            # an epoch the cache serves whole: the loader left the teacher's
            # input out (fdkd.TeacherInputSkipHook); fetch checks each hit
            teacher_inputs = None
        else:
            teacher_inputs = self._modality(batch_inputs,
                                            self.teacher_modality)
        gt_label = gt_labels_of(data_samples)
        check_labels(gt_label, self.num_classes, data_samples,
                     self._num_classes_key)
        with batch_norm_guard():
            return self._loss(teacher_inputs, student_inputs, data_samples,
                              gt_label)

    def _loss(self, teacher_inputs: Optional[torch.Tensor],
              student_inputs: torch.Tensor,
              data_samples: Optional[List[BaseDataElement]],
              gt_label: Optional[torch.Tensor]) -> dict:
        losses = self._teacher_phase(teacher_inputs, data_samples,
                                     student_inputs.device)
        self.distiller.set_deliveries_override(True)
        with self.distiller.student_recorders, self.distiller.deliveries:
            if self.calculate_student_loss:
                student_losses = self.student(
                    student_inputs, data_samples, mode='loss')
                if self.student_loss_weight != 1:
                    student_losses = scale_losses(
                        student_losses, self.student_loss_weight)
                losses.update(add_prefix(student_losses, 'student'))
            else:
                self.student(student_inputs, data_samples, mode='tensor')
        self._per_clip(self.student, self.distiller.student_recorders,
                       student_inputs)
        losses.update(self._distill_phase(gt_label))
        if self.gradient_probe is not None:
            self.gradient_probe(losses, self.distiller)
        return losses

    def _distill_phase(self, gt_label: Optional[torch.Tensor]) -> dict:
        """The distiller's losses from the recorded pair, ``distill.*``."""
        if self.distillation_stopped:
            return dict()
        if self._distiller_takes_labels:
            distill_losses = self.distiller.compute_distill_losses(
                gt_label=gt_label)
        else:
            distill_losses = self.distiller.compute_distill_losses()
        return add_prefix(distill_losses, 'distill')

    @staticmethod
    def _per_clip(network: torch.nn.Module, recorders,
                  inputs: torch.Tensor) -> None:
        """One record row per clip: a network that folds ``k`` frames into
        the batch (``fdkd.MultiFrameBackbone``) records ``(N*k, ...)`` at
        its inner layers; those records become their clip means, ``(N,
        ...)``, before any connector or the teacher cache sees them."""
        if isinstance(inputs, dict):  # a fused teacher: no frame folding
            return
        average_frame_records(recorders, inputs.shape[0],
                              frames_per_clip(network, inputs))

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
