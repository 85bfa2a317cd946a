"""Record a network's features over a data set, and split them into bands.

The feature of a network is recorded as the FDKD distiller records it: an
MMRazor recorder (``mmrazor.ModuleInputs`` / ``mmrazor.ModuleOutputs``) on a
module, global-average-pooled to ``(N, C)``. The default,
:data:`FDKD_FEATURE`, is the distiller's feature on mmpretrain's ResNet-18:
the input of ``backbone.layer4.1.relu`` at its second call (``record_idx=1``),
i.e. the last block's pre-ReLU sum.

- :class:`FeatureSource` names one recorded feature (parsed from
  ``'inputs:backbone.layer4.1.relu#1'``),
- :class:`FeatureExtractor` records the sources of one network on a batch,
- :func:`extract_paired_features` runs several networks over one data loader
  (each on its own modality of the paired batch) and returns their features
  and the labels, :func:`extract_features` the same for one network,
- :func:`split_bands` is the raw / low / high split every analysis uses.
"""
import dataclasses
import difflib
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmrazor.models.task_modules import RecorderManager
from torch import Tensor, nn

from fdkd_plugin.compat import set_inplace_false
from fdkd_plugin.frequency import frequency_split
from fdkd_plugin.models.algorithms.cross_modal_distill import gt_labels_of
from fdkd_plugin.models.backbones.multi_frame_backbone import (
    frame_mean, frames_per_clip)

__all__ = [
    'BANDS', 'FeatureSource', 'FDKD_FEATURE', 'FeatureExtractor',
    'extract_paired_features', 'extract_features', 'split_bands',
    'network_modality'
]

#: The three views of a feature every analysis compares.
BANDS: Tuple[str, ...] = ('raw', 'low', 'high')

_KINDS = {'inputs': 'mmrazor.ModuleInputs', 'outputs': 'mmrazor.ModuleOutputs'}


@dataclasses.dataclass(frozen=True)
class FeatureSource:
    """One recorded feature of a network.

    Written as a string ``[inputs:|outputs:]MODULE[#RECORD_IDX]``: ``kind``
    defaults to ``outputs`` and ``record_idx`` to 0, so ``'backbone.layer3'``
    is the output of ``backbone.layer3`` and
    ``'inputs:backbone.layer4.1.relu#1'`` (:data:`FDKD_FEATURE`) the input of
    the second call of ``backbone.layer4.1.relu``.

    Attributes:
        module (str): Module name in ``model.named_modules()``.
        kind (str): ``'inputs'`` (``mmrazor.ModuleInputs``) or ``'outputs'``
            (``mmrazor.ModuleOutputs``). Defaults to ``'outputs'``.
        record_idx (int): Which call of the module in one forward (a module
            called twice, as the ReLU of mmpretrain's ``BasicBlock``, has
            records 0 and 1). Defaults to 0.
        data_idx (int, optional): Which element of the record; None for
            the whole record. Defaults to 0 for ``inputs`` (the first
            positional input) and None for ``outputs``.
    """
    module: str
    kind: str = 'outputs'
    record_idx: int = 0
    data_idx: Optional[int] = None

    def __post_init__(self) -> None:
        if not isinstance(self.module, str) or not self.module:
            raise ValueError(f'module={self.module!r} must be a module name')
        if self.kind not in _KINDS:
            raise ValueError(f'kind={self.kind!r} must be one of '
                             f'{sorted(_KINDS)}')
        if not isinstance(self.record_idx, int) or self.record_idx < 0:
            raise ValueError(f'record_idx={self.record_idx!r} must be an '
                             'int >= 0')
        if self.data_idx is None and self.kind == 'inputs':
            object.__setattr__(self, 'data_idx', 0)

    @classmethod
    def parse(cls, spec: Union[str, 'FeatureSource']) -> 'FeatureSource':
        """``'[inputs:|outputs:]MODULE[#RECORD_IDX]'`` -> FeatureSource."""
        if isinstance(spec, FeatureSource):
            return spec
        if not isinstance(spec, str) or not spec:
            raise ValueError(f'feature source {spec!r} must be a string '
                             '[inputs:|outputs:]MODULE[#RECORD_IDX]')
        kind, module = 'outputs', spec
        if ':' in spec:
            kind, module = spec.split(':', 1)
        record_idx = 0
        if '#' in module:
            module, idx = module.rsplit('#', 1)
            if not idx.isdigit():
                raise ValueError(f'feature source {spec!r}: record index '
                                 f'{idx!r} must be an int >= 0')
            record_idx = int(idx)
        return cls(module, kind, record_idx)

    def __str__(self) -> str:
        return f'{self.kind}:{self.module}#{self.record_idx}'

    @property
    def recorder_cfg(self) -> dict:
        """The MMRazor recorder config for :class:`RecorderManager`."""
        return dict(type=_KINDS[self.kind], source=self.module)


#: The feature the FDKD distiller records on mmpretrain's ResNet-18
#: (``configs/_base_/models/fdkd_resnet18.py``).
FDKD_FEATURE = FeatureSource('backbone.layer4.1.relu', 'inputs', 1)

SourcesType = Union[str, FeatureSource, Sequence[Union[str, FeatureSource]]]


def auto_source(model: nn.Module) -> FeatureSource:
    """The feature ``feature='auto'`` of the FDKD distiller takes in
    ``model`` (:func:`fdkd_plugin.models.algorithms.auto_feature.
    find_feature`), as a source (``'auto'`` in ``sources``)."""
    from fdkd_plugin.models.algorithms.auto_feature import find_feature
    choice = find_feature(model)
    kind = 'inputs' if choice.kind == 'ModuleInputs' else 'outputs'
    return FeatureSource(choice.source, kind, choice.record_idx,
                         choice.data_idx)


def network_modality(model: nn.Module) -> Optional[str]:
    """The modality a network's data pre-processor selects, if any
    (``fdkd.MultiModalDataPreprocessor(modality=...)``)."""
    preprocessor = getattr(model, 'data_preprocessor', None)
    return getattr(preprocessor, 'modality', None)


class FeatureExtractor:
    """Record features of one network on paired batches.

    The network is put in eval mode and every module with an ``inplace``
    attribute is set to ``inplace=False``, as MMRazor's distillation
    algorithms do: an in-place ReLU would overwrite the recorded input with
    its output (the record would then be post-ReLU). Use it as a context
    manager, or call :meth:`close`, to remove the recorders' hooks.

    Args:
        model (nn.Module): An MMEngine model (e.g. mmpretrain
            ``ImageClassifier``) with a data pre-processor.
        sources (str | FeatureSource | sequence): The features to record;
            ``'auto'``: the one FDKD's ``feature='auto'`` takes in this
            network (:func:`auto_source`). Defaults to :data:`FDKD_FEATURE`.
        modality (str, optional): The modality to feed when the network's
            pre-processor keeps the ``{modality: Tensor}`` dict. With a
            pre-processor that selects a modality itself it must be None or
            that modality. Defaults to None.
        pool (bool): Average ``(N, C, ...)`` records over all dims after C
            to ``(N, C)``. Defaults to True.
    """

    def __init__(self,
                 model: nn.Module,
                 sources: SourcesType = FDKD_FEATURE,
                 modality: Optional[str] = None,
                 pool: bool = True) -> None:
        if isinstance(sources, (str, FeatureSource)):
            sources = [sources]
        self.sources: List[FeatureSource] = [
            auto_source(model) if s == 'auto' else FeatureSource.parse(s)
            for s in sources
        ]
        if not self.sources:
            raise ValueError('sources must name at least one feature')
        own = network_modality(model)
        if modality is not None and own is not None and modality != own:
            raise ValueError(f'modality={modality!r}, but the network\'s data '
                             f'pre-processor selects {own!r}')
        self.model = model
        self.modality = modality
        self.pool = pool

        names = dict(model.named_modules())
        for src in self.sources:
            if src.module not in names:
                close = difflib.get_close_matches(src.module, list(names), 5)
                raise ValueError(f'module {src.module!r} is not in the '
                                 f'network; close names: {close}')
        model.eval()
        set_inplace_false(model)
        self.recorders = RecorderManager(
            {str(s): s.recorder_cfg
             for s in self.sources})
        self.recorders.initialize(model)

    def close(self) -> None:
        """Remove the recorders' forward hooks from the network (MMRazor
        registers them without keeping a handle)."""
        for recorder in self.recorders.recorders.values():
            for module in self.model.modules():
                hooks = module._forward_hooks
                for key in [
                        k for k, h in hooks.items()
                        if getattr(h, '__self__', None) is recorder
                ]:
                    del hooks[key]

    def __enter__(self) -> 'FeatureExtractor':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _inputs(self, data: dict) -> Tensor:
        data = self.model.data_preprocessor(data, False)
        inputs = data['inputs']
        if isinstance(inputs, dict):
            if self.modality is None:
                raise ValueError(
                    f'the batch holds {sorted(inputs)} and the network\'s '
                    'pre-processor selects none: pass modality=')
            if self.modality not in inputs:
                raise KeyError(f'modality {self.modality!r} is not in the '
                               f'batch, which holds {sorted(inputs)}')
            inputs = inputs[self.modality]
        return inputs

    @torch.no_grad()
    def __call__(self, data: dict) -> Dict[str, Tensor]:
        """Features of one collated batch.

        Args:
            data (dict): A batch from the data loader, ``{'inputs':
                {modality: ...}, 'data_samples': [...]}``.

        Returns:
            dict[str, Tensor]: ``str(source)`` -> ``(N, C)`` float32 CPU
            features (``(N, C, ...)`` with ``pool=False``).
        """
        inputs = self._inputs(data)
        n, k = inputs.shape[0], frames_per_clip(self.model, inputs)
        with self.recorders:
            self.model(inputs, None, mode='tensor')
            feats = {}
            for src in self.sources:
                name = str(src)
                recorder = self.recorders.get_recorder(name)
                if src.record_idx >= len(recorder.data_buffer):
                    raise ValueError(
                        f'{name}: {src.module!r} was called '
                        f'{len(recorder.data_buffer)} time(s) in one '
                        f'forward, no record {src.record_idx}')
                feat = recorder.get_record_data(src.record_idx, src.data_idx)
                if not isinstance(feat, Tensor):
                    raise ValueError(f'{name} is a {type(feat).__name__}, '
                                     'not a tensor: set a data index')
                if k > 1 and feat.shape[0] == n * k:
                    # a MultiFrameBackbone folds k frames into the batch:
                    # average them per clip, as its output does
                    feat = frame_mean(feat, k)
                if self.pool and feat.dim() > 2:
                    feat = feat.flatten(2).mean(-1)  # (N, C, ...) -> (N, C)
                feats[name] = feat.detach().float().cpu()
        return feats


def extract_paired_features(
    extractors: Mapping[str, FeatureExtractor],
    dataloader: Sequence,
    progress: bool = True,
    desc: str = 'features'
) -> Tuple[Dict[str, Dict[str, Tensor]], Optional[Tensor]]:
    """Run several networks over one (paired) data loader in one pass.

    Every batch is fed to each extractor (each picks its own modality), so
    row ``i`` of every network's features is the same sample.

    Args:
        extractors (Mapping[str, FeatureExtractor]): Network name ->
            extractor.
        dataloader (Iterable): Yields collated batches (``{'inputs':
            {modality: ...}, 'data_samples': [...]}``).
        progress (bool): Show a tqdm bar over the batches. Defaults to True.
        desc (str): The bar's label.

    Returns:
        tuple: ``feats[network][str(source)]`` -> ``(N, C)`` tensors, and
        the ``(N,)`` int64 labels (None if the batches carry no
        ``gt_label``).
    """
    from tqdm import tqdm
    chunks: Dict[str, Dict[str, List[Tensor]]] = {
        name: {}
        for name in extractors
    }
    labels: List[Tensor] = []
    total = len(dataloader) if hasattr(dataloader, '__len__') else None
    for data in tqdm(dataloader, desc=desc, total=total, disable=not progress):
        for name, extractor in extractors.items():
            for key, feat in extractor(data).items():
                chunks[name].setdefault(key, []).append(feat)
        label = gt_labels_of(data.get('data_samples'))
        if label is not None:
            labels.append(label.view(-1).long().cpu())
    feats = {
        name: {
            key: torch.cat(parts)
            for key, parts in per.items()
        }
        for name, per in chunks.items()
    }
    return feats, (torch.cat(labels) if labels else None)


def extract_features(model: nn.Module,
                     dataloader: Sequence,
                     modality: Optional[str] = None,
                     layer: Union[str, FeatureSource] = FDKD_FEATURE,
                     pool: bool = True,
                     progress: bool = True) -> Tuple[Tensor, Optional[Tensor]]:
    """``(N, C)`` features of one network over a data loader, and labels.

    Args:
        model (nn.Module): The network (see :class:`FeatureExtractor`).
        dataloader (Iterable): Collated batches.
        modality (str, optional): The input modality if the network's
            pre-processor does not select one.
        layer (str | FeatureSource): The feature, or ``'auto'``. Defaults
            to :data:`FDKD_FEATURE`.
        pool (bool): Global-average-pool maps. Defaults to True.
        progress (bool): Show a tqdm bar. Defaults to True.

    Returns:
        tuple[Tensor, Tensor | None]: ``(N, C)`` float32 features and the
        ``(N,)`` labels.
    """
    with FeatureExtractor(model, layer, modality, pool) as extractor:
        feats, labels = extract_paired_features({'net': extractor}, dataloader,
                                                progress)
    return feats['net'][str(extractor.sources[0])], labels


def split_bands(x: Tensor,
                cutoff: float = 0.5,
                keep_dc: bool = False) -> Dict[str, Tensor]:
    """The raw feature and its low and high bands.

    ``low`` and ``high`` are :func:`fdkd_plugin.frequency.frequency_split`
    of ``x`` over its channels (``(N, D)``; a 2-D radial split for
    ``(N, C, H, W)``), exactly as the FDKD distiller splits. With
    ``keep_dc=False`` both are zero-mean per sample and ``raw = low + high +
    mean``.

    Args:
        x (Tensor): ``(N, D)`` or ``(N, C, H, W)`` features.
        cutoff (float): cut-off ratio in (0, 1). Defaults to 0.5.
        keep_dc (bool): put the per-sample mean into ``low``. Defaults to
            False.

    Returns:
        dict[str, Tensor]: ``{'raw': x, 'low': .., 'high': ..}`` (the order
        of :data:`BANDS`).
    """
    parts = frequency_split(x, cutoff=cutoff, keep_dc=keep_dc)
    return {'raw': x, 'low': parts.low, 'high': parts.high}
