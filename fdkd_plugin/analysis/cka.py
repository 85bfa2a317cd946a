"""Linear centered kernel alignment (CKA), paper Appendix B.

Functional and in torch, for features of the same ``n`` samples from two
networks (or two layers, or two frequency bands):

- :func:`linear_cka` is the score of Appendix B,
- :func:`band_cka` scores the raw feature and its low and high frequency
  bands (:func:`fdkd_plugin.frequency.frequency_split`), the measurement of
  the paper's Fig. 1;
- :func:`paired_cosine` / :func:`band_cosine`: the mean per-sample cosine of
  two features of one width, the metric of the public FDKD notebook, which
  (unlike CKA) compares sample ``i`` of one side with sample ``i`` of the
  other only.
"""
from typing import Dict

import torch
from torch import Tensor

from .features import split_bands

__all__ = ['linear_cka', 'band_cka', 'paired_cosine', 'band_cosine']


def _check_pair(x: Tensor, y: Tensor) -> None:
    for name, t in (('x', x), ('y', y)):
        if not isinstance(t, Tensor) or t.dim() != 2:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t)
            raise ValueError(f'{name} must be an (n, D) tensor, got {shape}')
        if not t.is_floating_point():
            raise ValueError(f'{name} must be floating point, got {t.dtype}')
    if x.shape[0] != y.shape[0]:
        raise ValueError(f'x and y must hold the same samples: x has '
                         f'{x.shape[0]} rows, y has {y.shape[0]}')
    if x.shape[0] < 2:
        raise ValueError(f'CKA needs n >= 2 samples, got n={x.shape[0]}')


def linear_cka(x: Tensor, y: Tensor) -> Tensor:
    r"""Linear CKA of two feature sets of the same samples (Appendix B).

    With the Gram matrices :math:`K = XX^\top`, :math:`L = YY^\top` and the
    centring matrix :math:`H = I_n - \frac{1}{n}\mathbf{1}\mathbf{1}^\top`,

    .. math::

        \mathrm{HSIC}(K, L) = \frac{\mathrm{tr}(KHLH)}{(n - 1)^2}, \qquad
        \mathrm{CKA}(X, Y) = \frac{\mathrm{HSIC}(K, L)}
                                  {\sqrt{\mathrm{HSIC}(K, K)\,
                                         \mathrm{HSIC}(L, L)}}

    (the :math:`(n-1)^2` cancels). ``HKH`` is the appendix's centred Gram
    matrix :math:`\tilde K`. The score is in [0, 1], 1 for identical
    features, symmetric, invariant to orthogonal transforms and isotropic
    scaling of either side (not to arbitrary invertible linear maps), and
    compares features of different widths ``D1 != D2``.

    It is computed in whichever form is cheaper, both exact: with the
    column-centred :math:`X_c = HX`, :math:`\mathrm{tr}(KHLH) =
    \|Y_c^\top X_c\|_F^2` costs :math:`O(n D_1 D_2)`; the Gram form costs
    :math:`O(n^2 (D_1 + D_2))`. Computed in float64.

    Args:
        x (Tensor): ``(n, D1)`` features, one row per sample.
        y (Tensor): ``(n, D2)`` features of the same samples, same order.

    Returns:
        Tensor: a float64 scalar; NaN when either side is constant over the
        samples (its centred Gram matrix is zero and CKA is undefined).
    """
    _check_pair(x, y)
    n, d1 = x.shape
    d2 = y.shape[1]
    # centre over samples (= H X); float64 so that small scores on wide
    # features are not rounding noise
    xc = x.double() - x.double().mean(dim=0, keepdim=True)  # (n, D1)
    yc = y.double() - y.double().mean(dim=0, keepdim=True)  # (n, D2)
    if n * d1 * d2 <= n * n * (d1 + d2):
        # tr(K H L H) = ||Yc^T Xc||_F^2, tr(K H K H) = ||Xc^T Xc||_F^2
        cross = (yc.T @ xc).pow(2).sum()
        self_x = (xc.T @ xc).pow(2).sum()
        self_y = (yc.T @ yc).pow(2).sum()
    else:
        kc = xc @ xc.T  # (n, n) = H K H
        lc = yc @ yc.T  # (n, n) = H L H
        # tr(A B) of symmetric A, B = sum of the elementwise product
        cross = (kc * lc).sum()
        self_x = kc.pow(2).sum()
        self_y = lc.pow(2).sum()
    denom = (self_x * self_y).sqrt()
    if denom == 0:
        return torch.tensor(float('nan'), dtype=torch.float64)
    return cross / denom


def band_cka(x: Tensor,
             y: Tensor,
             cutoff: float = 0.5,
             keep_dc: bool = False) -> Dict[str, float]:
    """Linear CKA of the raw features and of their low and high bands.

    Each side is split on its own channels with
    :func:`fdkd_plugin.frequency.frequency_split` (as the FDKD distiller
    splits the pooled feature), then :func:`linear_cka` compares the same
    band of both sides. The paper's Fig. 1 claims ``low > raw > high`` for
    audio-visual pairs.

    Args:
        x (Tensor): ``(n, D1)`` features.
        y (Tensor): ``(n, D2)`` features of the same samples.
        cutoff (float): cut-off ratio of the split. Defaults to 0.5.
        keep_dc (bool): keep each sample's mean in the low band. Defaults
            to False (the distiller's DC filter).

    Returns:
        dict[str, float]: ``{'raw': .., 'low': .., 'high': ..}``.
    """
    _check_pair(x, y)
    bx = split_bands(x, cutoff=cutoff, keep_dc=keep_dc)
    by = split_bands(y, cutoff=cutoff, keep_dc=keep_dc)
    return {band: float(linear_cka(bx[band], by[band])) for band in bx}


def paired_cosine(x: Tensor, y: Tensor) -> Tensor:
    """Mean over samples of ``cos(x_i, y_i)`` (float64); a zero row counts
    as cosine 0. Both sides need the same width ``D``."""
    _check_pair(x, y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f'a per-sample cosine needs one width: x has '
                         f'D={x.shape[1]}, y has D={y.shape[1]} (linear CKA '
                         'compares different widths)')
    x, y = x.double(), y.double()
    norms = x.norm(dim=1) * y.norm(dim=1)
    dots = (x * y).sum(dim=1)
    cos = torch.where(norms > 0, dots / norms.clamp_min(1e-300),
                      torch.zeros_like(dots))
    return cos.mean()


def band_cosine(x: Tensor,
                y: Tensor,
                cutoff: float = 0.5,
                keep_dc: bool = False) -> Dict[str, float]:
    """:func:`paired_cosine` of the raw features and of each band, split as
    in :func:`band_cka`."""
    _check_pair(x, y)
    bx = split_bands(x, cutoff=cutoff, keep_dc=keep_dc)
    by = split_bands(y, cutoff=cutoff, keep_dc=keep_dc)
    return {band: float(paired_cosine(bx[band], by[band])) for band in bx}
