"""``feature='auto'``: find the feature FDKD distills in any image
classifier or segmentor, by tracing one forward pass.

The paper's rule (A.3) is "the pre-activation output of the last stage" for
a classifier and "the decoder feature before the classifier, before its
ReLU" for a segmentor. Traced on a batch (in eval mode, without gradients,
so no BatchNorm statistic moves):

- classifier (a ``backbone``): the last call of an activation module
  (ReLU, ReLU6, GELU, SiLU, Hardswish, LeakyReLU, ...) inside the backbone
  whose input has the shape of the backbone's final output: its input is
  that output before its last activation. mmpretrain's ResNet family gives
  ``backbone.layer4.<last>.relu`` (call 1 of a BasicBlock, 2 of a
  Bottleneck), RegNet likewise, MobileNetV2 ``backbone.conv2.activate``,
  MobileNetV3 ``backbone.layer12.activate``, EfficientNet the input of its
  last ``Swish``. A backbone that ends without an activation (ConvNeXt,
  Swin, ViT / DeiT: a norm last) gives its own last output (``ModuleOutputs``
  on ``backbone``): Swin's last-stage map, ViT's class token
  (``out_type='cls_token'``, the default), the mean of its patch tokens
  (``'avg_featmap'``) or its token map (``'featmap'``), each after the final
  norm, as the head receives it (the analogue of BERT's ``[CLS]`` state
  before the pooler's tanh that the CrisisMMD configs distill). A raw token
  sequence ``(N, L, C)`` (``out_type='raw'``) is refused with the out_type
  to set.
- segmentor (a ``decode_head`` with a ``conv_seg``): the last activation
  call inside the decode head whose input has the shape of ``conv_seg``'s
  input (mmseg's DeepLabV3+: ``decode_head.sep_bottleneck.1.
  pointwise_conv.activate``; FCN ``conv_cat``, PSPNet ``bottleneck``,
  UPerNet ``fpn_bottleneck``, SegFormer ``fusion_conv``, each
  ``.activate``); else ``conv_seg``'s input itself.

:func:`auto_distiller` turns a ``fdkd.FreqDecoupledDistiller`` config with
``feature='auto'`` into one with recorders, ``in_channels`` (the teacher's
width), ``num_classes`` (the heads') and, when the widths differ, a learned
projection of the student feature (``Linear``, or a 1x1 ``Conv2d`` for
maps); maps of different sizes (decode heads of other output strides) get
``resize='bilinear'``. A side whose recorders the config gives with a ``feat`` keeps
them; other recorders it gives (an added logit KD's) stay next to the
traced ``feat``.
"""
import dataclasses
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from fdkd_plugin.utils.trace import ModuleCall, trace_modules

__all__ = ['FeatureChoice', 'find_feature', 'dummy_input', 'auto_distiller']

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Hardswish,
               nn.LeakyReLU, nn.ELU, nn.Mish, nn.PReLU, nn.RReLU)
#: mmcv's own activation modules (EfficientNet's ``Swish``), by class name
ACTIVATION_NAMES = ('Swish', 'HSwish', 'GELU', 'SiLU')


@dataclasses.dataclass
class FeatureChoice:
    """Where a network's feature is recorded, and why."""
    source: str  # module path
    kind: str  # 'ModuleInputs' or 'ModuleOutputs'
    record_idx: int
    data_idx: Optional[int]
    shape: Tuple[int, ...]  # on the traced batch
    rule: str

    def recorder(self) -> dict:
        return dict(type=f'mmrazor.{self.kind}', source=self.source)

    def feat(self) -> dict:
        return dict(
            recorder='feat', record_idx=self.record_idx,
            data_idx=self.data_idx)

    def __str__(self) -> str:
        what = 'input' if self.kind == 'ModuleInputs' else 'output'
        idx = '' if self.data_idx is None else f'[{self.data_idx}]'
        return (f'{self.source} {what}{idx} (call {self.record_idx}), shape '
                f'{self.shape}: {self.rule}')


def dummy_input(network: nn.Module, size: int = 64) -> torch.Tensor:
    """A ``(2, C, size, size)`` batch, ``C`` the first conv's input
    channels, drawn from a generator of its own: tracing leaves the global
    RNG where it was, so the heads built after it get the same initial
    weights as with explicit recorders (and a run the same numbers)."""
    gen = torch.Generator().manual_seed(0)
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            return torch.randn(2, module.in_channels, size, size,
                               generator=gen)
    raise ValueError(
        f"feature='auto' needs an image network (a Conv2d); "
        f'{type(network).__name__} has none: set the recorders explicitly '
        '(tools/misc/list_features.py lists the candidates)')


def _is_activation(network: nn.Module, call: ModuleCall) -> bool:
    module = network.get_submodule(call.path)
    return isinstance(module, ACTIVATIONS) or \
        type(module).__name__ in ACTIVATION_NAMES


def find_feature(network: nn.Module,
                 inputs: Optional[torch.Tensor] = None) -> FeatureChoice:
    """The feature of ``network`` by the paper's rule (module docstring).

    Args:
        network (nn.Module): An mmpretrain classifier (``backbone``) or an
            mmseg segmentor (``decode_head``).
        inputs (Tensor, optional): A batch to trace; default
            :func:`dummy_input`.
    """
    segmentor = hasattr(network, 'decode_head')
    if not segmentor and not hasattr(network, 'backbone'):
        raise ValueError(f"feature='auto' needs a classifier with a backbone "
                         f'or a segmentor with a decode_head; got '
                         f'{type(network).__name__}')
    inputs = dummy_input(network) if inputs is None else inputs
    was_training = network.training
    network.eval()
    try:
        calls = trace_modules(
            network, lambda: network(inputs, None, mode='tensor'))
    finally:
        network.train(was_training)
    scope = 'decode_head.' if segmentor else 'backbone.'
    if segmentor:
        seg = [c for c in calls if c.path == 'decode_head.conv_seg']
        if not seg:
            raise ValueError("feature='auto': the decode head has no "
                             'conv_seg call; set the recorders explicitly')
        target = seg[-1].in_shape
        inside = calls[:calls.index(seg[-1])]
    else:
        top = [c for c in calls if c.path == 'backbone']
        target, inside = top[-1].out_shape, calls
    found: List[ModuleCall] = [
        c for c in inside if c.path.startswith(scope)
        and c.in_shape == target and _is_activation(network, c)
    ]
    if found:
        last = found[-1]
        return FeatureChoice(
            last.path, 'ModuleInputs', last.call, 0, tuple(target),
            'the input of the last activation with the final shape '
            '(the pre-activation feature)')
    if segmentor:
        return FeatureChoice('decode_head.conv_seg', 'ModuleInputs',
                             seg[-1].call, 0, tuple(target),
                             "the classifier's input (no activation found)")
    if len(target) == 3:  # (N, L, C): a transformer's raw token sequence
        raise ValueError(
            f"feature='auto': the backbone of {type(network).__name__} "
            f'outputs a token sequence {tuple(target)} (N, tokens, '
            "channels), which has no channel axis FDKD can split; set its "
            "out_type='cls_token' (the class token) or 'avg_featmap' (the "
            "mean of the patch tokens), or pin the recorders "
            '(tools/misc/list_features.py lists the candidates)')
    return FeatureChoice(
        'backbone', 'ModuleOutputs', len(top) - 1, -1, tuple(target),
        "the backbone's last output (it ends without an activation)")


def _projection(width_in: int, width_out: int, pool: bool) -> dict:
    """A learned map of the student feature to the teacher's width."""
    if pool:
        return dict(
            type='mmrazor.TorchNNConnector',
            module_name='Linear',
            module_args=dict(in_features=width_in, out_features=width_out))
    return dict(
        type='mmrazor.TorchNNConnector',
        module_name='Conv2d',
        module_args=dict(
            in_channels=width_in, out_channels=width_out, kernel_size=1))


def auto_distiller(distiller: dict, student: nn.Module, teacher: nn.Module,
                   num_classes: Optional[int], key: str) -> dict:
    """``distiller`` with ``feature='auto'`` resolved (module docstring).

    Args:
        distiller (dict): A ``fdkd.FreqDecoupledDistiller`` config with
            ``feature='auto'``.
        student, teacher (nn.Module): The built networks.
        num_classes (int, optional): The heads' class count (used when the
            config gives none).
        key (str): The config key, for messages (``model.distiller``).
    """
    cfg = dict(distiller)
    cfg.pop('feature')
    pool = cfg.get('pool', True)
    chosen: Dict[str, FeatureChoice] = {}
    widths = {}
    for side, network in (('student', student), ('teacher', teacher)):
        given = dict(cfg.get(f'{side}_recorders') or {})
        if 'feat' in given:
            widths[side] = None  # the config's own feature: not traced
            continue
        choice = find_feature(network)
        chosen[side] = choice
        # other recorders (an added logit KD's) stay next to it
        cfg[f'{side}_recorders'] = dict(given, feat=choice.recorder())
        cfg.setdefault(f'{side}_feat', choice.feat())
        widths[side] = choice.shape[1]
    if widths.get('teacher') is not None:
        cfg.setdefault('in_channels', widths['teacher'])
    if cfg.get('num_classes') is None:
        if num_classes is None:
            raise ValueError(f"{key}: feature='auto' found no head with a "
                             'num_classes; set num_classes')
        cfg['num_classes'] = num_classes
    shapes = [c.shape for c in chosen.values()]
    if not pool and len(shapes) == 2 and len(shapes[0]) == 4 \
            and shapes[0][2:] != shapes[1][2:]:
        # maps of different strides: the student's is resized to the
        # teacher's at each step
        cfg.setdefault('resize', 'bilinear')
    if (widths.get('student') is not None
            and widths['student'] != cfg.get('in_channels')
            and cfg.get('student_connector') is None):
        cfg['student_connector'] = _projection(widths['student'],
                                               cfg['in_channels'], pool)
    lines = [f"{key}: feature='auto' chose"]
    for side, choice in chosen.items():
        lines.append(f'  {side}: {choice}')
    if 'student_connector' in cfg and 'student' in chosen:
        args = cfg['student_connector'].get('module_args')
        lines.append(f'  student projection to the teacher width: {args}')
    if cfg.get('resize'):
        lines.append(f"  student map resized to the teacher's "
                     f"({cfg['resize']})")
    lines.append('  (pin it: set these recorders in the config)')
    print_log('\n'.join(lines), logger='current')
    return cfg
