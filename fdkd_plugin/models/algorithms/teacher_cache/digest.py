"""Digests that key the teacher cache: the teacher's weights, and each
sample's input (to notice an input that changed between visits)."""
import hashlib
from typing import List, Optional, Sequence

import torch

__all__ = ['tensor_bytes', 'state_dict_digest', 'input_digests']


def tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def state_dict_digest(module: torch.nn.Module) -> str:
    """Hex blake2b of every name, dtype, shape and value of the state dict."""
    h = hashlib.blake2b(digest_size=16)
    for name, value in sorted(module.state_dict().items()):
        h.update(name.encode())
        if isinstance(value, torch.Tensor):
            h.update(f'{value.dtype}{tuple(value.shape)}'.encode())
            h.update(tensor_bytes(value))
        else:
            h.update(repr(value).encode())
    return h.hexdigest()


def input_digests(inputs: torch.Tensor,
                  tags: Optional[Sequence[object]] = None,
                  max_elems: int = 4096) -> List[bytes]:
    """A 16-byte blake2b digest of each sample of ``inputs`` (and its tag).

    A sample is flattened to ``D`` values; with ``D > max_elems`` only
    ``max_elems`` evenly spaced ones (``linspace(0, D - 1)``) are hashed, so
    a large frame costs little; any crop, flip or frame change alters them.

    Args:
        inputs (Tensor): ``(N, ...)`` teacher inputs.
        tags (Sequence, optional): One extra value per sample hashed along
            (the clip id), or None.
        max_elems (int): Values hashed per sample. Defaults to 4096.

    Returns:
        list[bytes]: ``N`` digests.
    """
    n = inputs.shape[0]
    flat = inputs.detach().reshape(n, -1)  # (N, D)
    if flat.shape[1] > max_elems:
        idx = torch.linspace(
            0, flat.shape[1] - 1, max_elems, device=flat.device).long()
        flat = flat[:, idx]  # (N, max_elems)
    rows = tensor_bytes(flat)
    step = len(rows) // max(n, 1)
    out = []
    for i in range(n):
        h = hashlib.blake2b(rows[i * step:(i + 1) * step], digest_size=16)
        if tags is not None:
            h.update(repr(tags[i]).encode())
        out.append(h.digest())
    return out
