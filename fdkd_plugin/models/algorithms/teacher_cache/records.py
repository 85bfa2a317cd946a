"""The structure of a teacher's records (nested tuples / lists / dicts of
tensors) split into per-sample tensors (leaves) and the rest (a spec), and
put back together."""
from typing import Any, List, Tuple

import torch

__all__ = ['Spec', 'Entry', 'flatten', 'unflatten', 'same_spec']

Spec = tuple


def flatten(obj: Any, n: int, leaves: List[torch.Tensor]) -> Spec:
    """Structure of ``obj``; its per-sample tensors are appended to
    ``leaves`` (first dimension ``n``), anything else kept in the spec."""
    if isinstance(obj, torch.Tensor):
        if obj.dim() >= 1 and obj.shape[0] == n:
            leaves.append(obj.detach())
            return ('leaf', len(leaves) - 1)
        return ('const', obj.detach().cpu().clone())
    if isinstance(obj, (tuple, list)):
        return ('seq', type(obj), tuple(flatten(v, n, leaves) for v in obj))
    if isinstance(obj, dict):
        return ('dict', type(obj),
                tuple((k, flatten(v, n, leaves)) for k, v in obj.items()))
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return ('const', obj)
    raise TypeError('teacher_cache cannot store a recorded '
                    f'{type(obj).__name__}; only tensors in tuples / lists / '
                    'dicts')


def unflatten(spec: Spec, leaves: List[torch.Tensor],
               device: torch.device) -> Any:
    kind = spec[0]
    if kind == 'leaf':
        return leaves[spec[1]]
    if kind == 'const':
        value = spec[1]
        return value.to(device) if isinstance(value, torch.Tensor) else value
    if kind == 'seq':
        items = [unflatten(s, leaves, device) for s in spec[2]]
        cls = spec[1]
        return cls(*items) if hasattr(cls, '_fields') else cls(items)
    return spec[1]((k, unflatten(s, leaves, device)) for k, s in spec[2])


def same_spec(a: Spec, b: Spec) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == 'leaf':
        return a[1] == b[1]
    if a[0] == 'const':
        if isinstance(a[1], torch.Tensor) or isinstance(b[1], torch.Tensor):
            return (isinstance(a[1], torch.Tensor)
                    and isinstance(b[1], torch.Tensor)
                    and a[1].shape == b[1].shape and torch.equal(a[1], b[1]))
        return a[1] == b[1]
    if a[1] != b[1] or len(a[2]) != len(b[2]):
        return False
    if a[0] == 'seq':
        return all(same_spec(x, y) for x, y in zip(a[2], b[2]))
    return all(ka == kb and same_spec(x, y)
               for (ka, x), (kb, y) in zip(a[2], b[2]))


Entry = Tuple[bytes, List[torch.Tensor]]  # (digest, per-sample leaves)
