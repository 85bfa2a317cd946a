"""The shared classifier of FDKD's feature-space alignment (paper Eq. 10)."""
from typing import Dict, Optional, Union

from mmengine.model import BaseModule
from torch import Tensor, nn

from fdkd_plugin.registry import MODELS

__all__ = ['SharedHead']

SIDES = ('student', 'teacher')
PROJECTIONS = ('linear', 'mlp')
ACTS = ('relu', None)


def _check_positive_int(name: str,
                        value: Optional[int],
                        allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name}={value!r} must be a positive int')


@MODELS.register_module()
class SharedHead(BaseModule):
    """One classifier for the teacher's and the student's features of a band.

    This is ``Phi_l`` or ``Phi_h`` of Eq. 10: the same weights classify the
    teacher's and the student's low (or high) band, so both are pushed into
    one decision space:

        logits = fc(dropout(act(proj_side(feat))))     # (N, num_classes)

    ``act`` is a ReLU by default, as the public reproduction's classifier
    (ReLU then Linear), because the distilled features are taken before the
    backbone's final ReLU (paper A.3). ``proj_side`` is the identity unless
    that side's width differs from ``in_channels`` (BERT 768 or MobileNetV2
    1280 vs a common 256, say); then it is a learned per-side projection to
    ``in_channels``:

    - ``'linear'``: ``Linear(c_side, in_channels)``;
    - ``'mlp'``: ``Linear(c_side, in_channels) - BatchNorm1d - ReLU -
      Linear(in_channels, in_channels)``.

    Only ``fc`` is shared; projections belong to one side each.

    Args:
        in_channels (int): the common width that ``fc`` reads.
        num_classes (int): number of classes.
        student_channels (int, optional): width of the student's features.
            Defaults to None (= ``in_channels``, no projection).
        teacher_channels (int, optional): width of the teacher's features.
            Defaults to None (= ``in_channels``, no projection).
        projection (str): ``'linear'`` or ``'mlp'``, used for a side whose
            width differs from ``in_channels``. Defaults to ``'linear'``.
        act (str, optional): ``'relu'`` or None (no activation) before
            ``fc``. Defaults to ``'relu'``.
        dropout (float): dropout probability before ``fc``, in [0, 1).
            Defaults to 0.0 (no dropout).
        init_cfg (dict | list[dict], optional): MMEngine init config.
            Defaults to None (PyTorch's default ``nn.Linear`` init, as the
            reproduction).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 student_channels: Optional[int] = None,
                 teacher_channels: Optional[int] = None,
                 projection: str = 'linear',
                 act: Optional[str] = 'relu',
                 dropout: float = 0.0,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        _check_positive_int('in_channels', in_channels)
        _check_positive_int('num_classes', num_classes)
        _check_positive_int('student_channels', student_channels, True)
        _check_positive_int('teacher_channels', teacher_channels, True)
        if projection not in PROJECTIONS:
            raise ValueError(
                f'projection={projection!r} must be one of {PROJECTIONS}')
        if act not in ACTS:
            raise ValueError(f'act={act!r} must be one of {ACTS}')
        is_number = isinstance(dropout,
                               (int, float)) and not isinstance(dropout, bool)
        if not is_number or not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout={dropout!r} must be in [0, 1)')

        self.in_channels = in_channels
        self.num_classes = num_classes
        self.widths: Dict[str, int] = {
            'student': student_channels or in_channels,
            'teacher': teacher_channels or in_channels,
        }
        self.projections = nn.ModuleDict()
        for side in SIDES:
            if self.widths[side] != in_channels:
                self.projections[side] = self._build_projection(
                    self.widths[side], in_channels, projection)
        self.act = nn.ReLU() if act == 'relu' else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)

    @staticmethod
    def _build_projection(in_width: int, out_width: int,
                          kind: str) -> nn.Module:
        if kind == 'linear':
            return nn.Linear(in_width, out_width)
        return nn.Sequential(
            nn.Linear(in_width, out_width), nn.BatchNorm1d(out_width),
            nn.ReLU(), nn.Linear(out_width, out_width))

    def project(self, feat: Tensor, side: str = 'student') -> Tensor:
        """Pool (if a map), check the width and project one side's feature.

        Args:
            feat (Tensor): ``(N, C)`` pooled features or ``(N, C, H, W)``
                maps (average-pooled over ``H, W`` first), ``C`` =
                ``{side}_channels`` (or ``in_channels`` when unset).
            side (str): ``'student'`` or ``'teacher'``. Defaults to
                ``'student'``.

        Returns:
            Tensor: ``(N, in_channels)``.
        """
        if side not in SIDES:
            raise ValueError(f'side={side!r} must be one of {SIDES}')
        if feat.dim() == 4:
            feat = feat.mean(dim=(2, 3))  # (N, C, H, W) -> (N, C)
        expected = self.widths[side]
        if feat.dim() != 2 or feat.shape[1] != expected:
            got = tuple(feat.shape)
            hint = (f'; set {side}_channels={feat.shape[1]} in the '
                    f'SharedHead config' if feat.dim() == 2 else '')
            raise ValueError(
                f'SharedHead got a {side} feature of shape {got}, expected '
                f'(N, {expected}) or (N, {expected}, H, W){hint}')
        if side in self.projections:
            feat = self.projections[side](feat)  # (N, C_side) -> (N, C)
        return feat

    def forward(self, feat: Tensor, side: str = 'student') -> Tensor:
        """Classify one side's feature with the shared ``fc``.

        Args:
            feat (Tensor): ``(N, C)`` or ``(N, C, H, W)``, see :meth:`project`.
            side (str): ``'student'`` or ``'teacher'``. Defaults to
                ``'student'``.

        Returns:
            Tensor: logits ``(N, num_classes)``.
        """
        feat = self.project(feat, side)  # (N, in_channels)
        return self.fc(self.dropout(self.act(feat)))

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, '
                f'num_classes={self.num_classes}, '
                f'student_channels={self.widths["student"]}, '
                f'teacher_channels={self.widths["teacher"]}')
