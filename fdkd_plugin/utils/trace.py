"""Every module call of one forward pass, with its input and output shapes:
what a recorder can name (``source``, ``record_idx``) and what it would
record (``tools/misc/list_features.py``)."""
import dataclasses
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn

__all__ = ['ModuleCall', 'trace_modules', 'describe', 'recorded_calls']


def describe(value: Any) -> str:
    """``(2, 256, 4, 4)`` for a tensor, ``[a, b]`` for a sequence of them,
    the type name for anything else."""
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    if isinstance(value, (tuple, list)):
        return '[' + ', '.join(describe(v) for v in value) + ']'
    if isinstance(value, dict):
        return '{' + ', '.join(f'{k}: {describe(v)}'
                               for k, v in value.items()) + '}'
    return type(value).__name__


@dataclasses.dataclass
class ModuleCall:
    """One call of one module in a forward pass.

    ``call`` counts the calls of that module so far (a recorder's
    ``record_idx``: mmpretrain's BasicBlock calls its ReLU twice, the
    second call's input is the block's pre-activation output).
    """
    path: str
    call: int
    type: str
    inputs: str
    output: str = '?'
    #: shape of the first tensor input / the output's last tensor (None:
    #: no tensor), for rules that compare shapes
    in_shape: Optional[Tuple[int, ...]] = None
    out_shape: Optional[Tuple[int, ...]] = None


def _first_shape(value: Any, last: bool = False) -> Optional[Tuple[int, ...]]:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)) and value:
        for v in (reversed(value) if last else value):
            shape = _first_shape(v, last)
            if shape is not None:
                return shape
    return None


def trace_modules(network: nn.Module, run) -> List[ModuleCall]:
    """The module calls of ``run()`` (which calls ``network``) in the order
    they start, with input and output shapes.

    Args:
        network (nn.Module): The network whose submodules are traced; paths
            are relative to it (``backbone.layer4.1.relu``).
        run (callable): Runs one forward pass of ``network``.
    """
    calls: List[ModuleCall] = []
    counts: Dict[str, int] = {}
    open_calls: Dict[int, List[ModuleCall]] = {}
    handles = []

    def pre_hook(path):

        def hook(module, args):
            call = ModuleCall(path, counts.get(path, 0),
                              type(module).__name__, describe(list(args)),
                              in_shape=_first_shape(args))
            counts[path] = call.call + 1
            calls.append(call)
            open_calls.setdefault(id(module), []).append(call)

        return hook

    def post_hook(module, args, output):
        stack = open_calls.get(id(module))
        if stack:
            call = stack.pop()
            call.output = describe(output)
            call.out_shape = _first_shape(output, last=True)

    for path, module in network.named_modules():
        if not path:
            continue
        handles.append(module.register_forward_pre_hook(pre_hook(path)))
        handles.append(module.register_forward_hook(post_hook))
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return calls


def recorded_calls(distiller_cfg: Optional[dict],
                   side: str) -> Dict[Tuple[str, int], str]:
    """``{(source, record_idx): 'recorder (type) -> reader, ...'}``: which
    module call each reader of a distiller config (FDKD's
    ``{side}_feat``, an MMRazor ``loss_forward_mappings`` entry) takes on
    ``side``; a recorder no one reads is listed at call 0."""
    cfg = distiller_cfg or {}
    recorders = cfg.get(f'{side}_recorders') or {}
    readers = []  # (recorder name, record_idx, who reads it)
    feat = cfg.get(f'{side}_feat')
    if feat:
        readers.append((feat.get('recorder', 'feat'),
                        feat.get('record_idx', 0), f'{side}_feat'))
    for loss, mapping in (cfg.get('loss_forward_mappings') or {}).items():
        for key, rec in mapping.items():
            if rec.get('from_student', True) == (side == 'student'):
                readers.append((rec.get('recorder'),
                                rec.get('record_idx', 0), f'{loss}.{key}'))
    read = {name for name, _, _ in readers}
    readers += [(name, 0, 'not read') for name in recorders
                if name not in read]
    out: Dict[Tuple[str, int], str] = {}
    for name, idx, who in readers:
        rec = recorders.get(name)
        if not rec or 'source' not in rec:
            continue
        kind = str(rec.get('type', '?')).split('.')[-1]
        label = f'{name} ({kind}) -> {who}'
        key = (rec['source'], idx)
        out[key] = f'{out[key]}, {label}' if key in out else label
    return out
