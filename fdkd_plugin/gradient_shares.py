"""What each loss term contributes to the gradient on one feature.

The functional core of ``fdkd.LossGradientHook``: for a dict of loss terms
(as a model's ``loss`` mode returns it) and one tensor of their graph (the
student's distilled feature), the gradient of every term with respect to
that tensor, its norm, its share of the summed norms and its cosine with the
gradient of the total. The total is the sum of the terms whose key contains
``'loss'``, as :meth:`mmengine.model.BaseModel.parse_losses` sums them for
the optimizer.

A term that does not reach the feature (the teacher's own cross-entropy, the
teacher side of a shared head) has gradient zero there: it is reported with
norm 0 and share 0, not left out.
"""
from typing import Dict, List, NamedTuple, Union

import torch

__all__ = ['GradientShares', 'loss_terms', 'term_gradients',
           'gradient_shares']

Loss = Union[torch.Tensor, List[torch.Tensor]]


class GradientShares(NamedTuple):
    """Per term: ``norm`` (L2 norm of its gradient on the feature),
    ``share`` (``norm / sum of all norms``; the shares sum to 1 unless
    every norm is 0) and ``cosine`` (with the gradient of the total; 0 for a
    zero gradient). ``total_norm``: the norm of the total's gradient, which
    is at most the sum of the norms (equal when all terms point one way)."""
    norm: Dict[str, float]
    share: Dict[str, float]
    cosine: Dict[str, float]
    total_norm: float


def loss_terms(losses: Dict[str, Loss]) -> Dict[str, torch.Tensor]:
    """The terms that the optimizer sums: keys containing ``'loss'``, a list
    of tensors summed (MMEngine's ``parse_losses`` rule)."""
    terms = {}
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        if isinstance(value, torch.Tensor):
            terms[name] = value.mean()
        elif isinstance(value, (list, tuple)):
            terms[name] = sum(v.mean() for v in value)
        else:
            raise TypeError(f'loss term {name!r} is a {type(value).__name__},'
                            ' not a tensor or a list of tensors')
    return terms


def term_gradients(terms: Dict[str, torch.Tensor],
                   feature: torch.Tensor) -> Dict[str, torch.Tensor]:
    """The gradient of each term with respect to ``feature`` (zeros for a
    term that does not depend on it). The graph is kept for the real
    backward pass; no parameter's ``.grad`` is touched."""
    if not feature.requires_grad:
        raise ValueError('the feature does not require grad: it is not in '
                         'the graph of the losses (a frozen network, or a '
                         'record taken under torch.no_grad())')
    grads = {}
    for name, term in terms.items():
        grad = None
        if term.requires_grad:
            grad, = torch.autograd.grad(
                term, feature, retain_graph=True, allow_unused=True)
        grads[name] = torch.zeros_like(feature) if grad is None else grad
    return grads


def gradient_shares(grads: Dict[str, torch.Tensor]) -> GradientShares:
    """Norms, shares and cosines of per-term gradients (see
    :class:`GradientShares`), in float64."""
    flat = {k: g.detach().double().flatten() for k, g in grads.items()}
    norm = {k: g.norm().item() for k, g in flat.items()}
    total_sum = sum(norm.values())
    share = {k: (v / total_sum if total_sum > 0 else 0.0)
             for k, v in norm.items()}
    total = sum(flat.values()) if flat else torch.zeros(1, dtype=torch.double)
    total_norm = total.norm().item()
    cosine = {}
    for k, g in flat.items():
        denom = norm[k] * total_norm
        cosine[k] = (g @ total).item() / denom if denom > 0 else 0.0
    return GradientShares(norm, share, cosine, total_norm)
