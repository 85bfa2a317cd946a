"""Several cross-modal distillation directions (A <- V and V <- A) trained
together from one data loader."""
import copy
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from mmrazor.models.utils import add_prefix

from fdkd_plugin.registry import MODELS
from ..data_preprocessors import paired_preprocessor_cfg
from .cross_modal_distill import CrossModalDistill

__all__ = ['BidirectionalCrossModalDistill']

Inputs = Dict[str, torch.Tensor]


@MODELS.register_module()
class BidirectionalCrossModalDistill(BaseModel):
    """Train one student per direction on the same paired batches.

    Each entry of ``directions`` is a complete :class:`CrossModalDistill`
    (its own student, frozen teacher, distiller and optional
    ``teacher_cache``), e.g. ``a_from_v`` (audio student, visual teacher)
    and ``v_from_a``. Every batch ``{modality: Tensor}`` is loaded and
    pre-processed once and handed to each direction; the loss is the sum of
    the directions' losses, logged with the direction's name as prefix
    (``a_from_v.distill.loss_low``, ``v_from_a.student.loss``).

    The directions share no parameter, so the gradient of each student is
    exactly that of its own direction trained alone: with an optimizer that
    treats parameters independently (SGD, Adam, weight decay) one run equals
    the separate runs on the same batches. A global gradient-norm clip
    (``optim_wrapper.clip_grad``) would couple them.

    Validation and test (``fdkd.BidirectionalValLoop`` /
    ``fdkd.BidirectionalTestLoop``) evaluate every student on its own
    modality (:meth:`predict_all`) and each frozen teacher once. In
    ``'predict'`` / ``'tensor'`` mode (MMEngine's plain loops, deployment)
    the model answers with the student of ``predict_direction``. The
    checkpoint holds ``directions.{name}.architecture.*`` (the students);
    ``tools/model_converters/extract_student.py --student {name}`` extracts
    one of them.

    Each direction makes the checks of :class:`CrossModalDistill` (teacher
    checkpoint present and loaded strictly, one class count, labels in
    range), its errors naming ``model.directions.{name}.*`` keys.

    Args:
        directions (dict[str, dict | CrossModalDistill]): Name -> config of
            a ``fdkd.CrossModalDistill`` (``type`` may be left out). Names
            are prefixes of logs and metrics: non-empty, without ``'.'`` or
            ``'/'``.
        predict_direction (str, optional): The direction whose student
            answers ``'predict'`` / ``'tensor'`` calls. Defaults to None:
            the first one.
        data_preprocessor (dict, optional): Defaults to
            ``fdkd.MultiModalDataPreprocessor`` keeping all modalities (the
            directions' own pre-processors are not used).
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 directions: Dict[str, Union[Dict, CrossModalDistill]],
                 predict_direction: Optional[str] = None,
                 data_preprocessor: Optional[Dict] = None,
                 init_cfg: Optional[Dict] = None) -> None:
        if not isinstance(directions, dict) or not directions:
            raise ValueError(f'directions={directions!r} must be a non-empty '
                             'dict of name -> CrossModalDistill config')
        built = nn.ModuleDict()
        for name, cfg in directions.items():
            if not isinstance(name, str) or not name or '.' in name \
                    or '/' in name:
                raise ValueError(f'direction name {name!r} must be a '
                                 "non-empty str without '.' or '/'")
            if isinstance(cfg, dict):
                cfg = dict(cfg)
                cfg.setdefault('type', 'fdkd.CrossModalDistill')
                # errors (missing teacher checkpoint, class counts ...) name
                # the direction's own config keys
                cls = MODELS.get(cfg['type']) if isinstance(
                    cfg['type'], str) else cfg['type']
                if isinstance(cls, type) and issubclass(
                        cls, CrossModalDistill):
                    cfg.setdefault('cfg_prefix', f'model.directions.{name}')
                cfg = MODELS.build(cfg)
            if not isinstance(cfg, CrossModalDistill):
                raise TypeError(f'direction {name!r} is a '
                                f'{type(cfg).__name__}, not a '
                                'CrossModalDistill')
            built[name] = cfg
        # every modality, normalized as the directions' networks say
        super().__init__(
            data_preprocessor=paired_preprocessor_cfg(
                data_preprocessor, *built.values()),
            init_cfg=init_cfg)
        self.directions = built
        if predict_direction is None:
            predict_direction = next(iter(built))
        if predict_direction not in built:
            raise ValueError(f'predict_direction={predict_direction!r} must '
                             f'be one of {list(built)}')
        self.predict_direction = predict_direction

    @property
    def direction_names(self) -> List[str]:
        """The directions' names, in config order."""
        return list(self.directions)

    @property
    def teacher_trainable(self) -> bool:
        """Whether any direction trains its teacher."""
        return any(d.teacher_trainable for d in self.directions.values())

    def forward(self,
                inputs: Inputs,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """``'loss'``: all directions; ``'predict'`` / ``'tensor'``: the
        student of ``predict_direction``."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        direction = self.directions[self.predict_direction]
        if mode in ('predict', 'tensor'):
            return direction(inputs, data_samples, mode=mode)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')

    def loss(self,
             batch_inputs: Inputs,
             data_samples: Optional[List[BaseDataElement]] = None) -> dict:
        """Each direction's losses, prefixed with its name."""
        losses = dict()
        for name, direction in self.directions.items():
            losses.update(
                add_prefix(direction.loss(batch_inputs, data_samples), name))
        return losses

    @torch.no_grad()
    def predict_all(self,
                    inputs: Inputs,
                    data_samples: Optional[List[BaseDataElement]] = None
                    ) -> Dict[str, list]:
        """Every student's predictions on its own modality.

        Host heads write predictions into the data samples they are given,
        so each direction gets its own copy.

        Returns:
            dict[str, list]: direction name -> predicted data samples.
        """
        return {
            name: direction(
                inputs, copy.deepcopy(data_samples), mode='predict')
            for name, direction in self.directions.items()
        }
