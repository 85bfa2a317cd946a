"""Networks named by their upstream configs: a model-zoo config plus a
checkpoint is a teacher (or a student).

In ``fdkd.CrossModalDistill``, ``architecture`` or ``teacher`` may be::

    dict(cfg_path='mmpretrain::convnext/convnext-tiny_32xb128_in1k.py',
         in_channels=1, num_classes=10, **overrides)

:func:`zoo_network_cfg` turns it into the upstream ``model`` config
(MMEngine's ``get_config``, which reads the package's own configs, no
download) with

- its types in the package's scope (``_scope_='mmpretrain'`` / ``'mmseg'``);
- ``in_channels`` set on the backbone and ``num_classes`` on every head
  (``head``, ``decode_head``, ``auxiliary_head``);
- ``fdkd.MultiModalDataPreprocessor`` selecting the side's modality and
  normalizing it with the upstream pre-processor's ``mean`` / ``std``
  (its ``to_rgb`` / ``bgr_to_rgb`` is left out: fdkd's loaders give RGB),
  unless ``in_channels`` says the input is something else (a 1-channel
  spectrogram for an ImageNet model: no normalization);
  a segmentor's crop ``size`` becomes ``pad_to``;
- the upstream recipe's batch augments (ImageNet's Mixup / CutMix in
  ``train_cfg.augments``) left out: mixing samples breaks the pairing of
  the two modalities;
- every other key of the dict merged over it (MMEngine's merge, so
  ``_delete_`` works), e.g. ``backbone=dict(init_cfg=None)`` offline.

Pretrained weights named by the upstream config (``init_cfg`` /
``pretrained`` URLs) stay as they are: they download when the Runner
initializes the weights, as for the upstream config itself.
"""
import copy
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['zoo_network_cfg', 'is_zoo_cfg']

HEADS = ('head', 'decode_head', 'auxiliary_head')


def is_zoo_cfg(cfg) -> bool:
    """A network config that names an upstream config by ``cfg_path``."""
    return isinstance(cfg, dict) and 'cfg_path' in cfg


def _set_classes(head, num_classes: int) -> None:
    for one in head if isinstance(head, list) else [head]:
        if isinstance(one, dict) and 'num_classes' in one:
            one['num_classes'] = num_classes


def zoo_network_cfg(cfg: dict, modality: str, key: str) -> dict:
    """The upstream model config of ``cfg`` (see the module docstring).

    Args:
        cfg (dict): ``dict(cfg_path=..., [in_channels], [num_classes],
            **overrides)``.
        modality (str): The modality this network sees.
        key (str): Its config key, for messages (``model.teacher``).

    Raises:
        ValueError: ``cfg_path`` cannot be loaded or has no ``model``.
    """
    from mmengine.hub import get_config
    cfg = copy.deepcopy(dict(cfg))
    path = cfg.pop('cfg_path')
    in_channels: Optional[int] = cfg.pop('in_channels', None)
    num_classes: Optional[int] = cfg.pop('num_classes', None)
    try:
        upstream = get_config(path) if '::' in path else Config.fromfile(path)
    except Exception as err:  # noqa: BLE001  a missing file, a bad name
        raise ValueError(
            f'{key}.cfg_path={path!r} cannot be loaded ({type(err).__name__}'
            f': {err}); name a model-zoo config as package::path, e.g. '
            "'mmpretrain::resnet/resnet18_8xb32_in1k.py'") from err
    if not isinstance(upstream.get('model'), dict):
        raise ValueError(f'{key}.cfg_path={path!r} has no model config')
    model = upstream.model.to_dict()
    if '::' in path:
        model.setdefault('_scope_', path.split('::')[0])
    pre = model.pop('data_preprocessor', None) or upstream.get(
        'data_preprocessor') or {}
    preprocessor = dict(type='fdkd.MultiModalDataPreprocessor',
                        modality=modality)
    if 'mean' in pre and 'std' in pre:
        if in_channels is None or in_channels == len(pre['mean']):
            preprocessor['norm_cfg'] = {
                modality: dict(mean=list(pre['mean']), std=list(pre['std']))
            }
        else:  # not the upstream's input (a spectrogram for an RGB model)
            print_log(f"{key}: in_channels={in_channels}, so {path}'s "
                      f'{len(pre["mean"])}-channel mean / std is not used; '
                      f'set data_preprocessor.norm_cfg for {modality!r} if '
                      'the input needs one', logger='current')
    if 'decode_head' in model:
        size = pre.get('size')
        preprocessor['pad_to'] = tuple(size) if size else 'ori_shape'
    model['data_preprocessor'] = preprocessor
    train_cfg = model.get('train_cfg')
    if isinstance(train_cfg, dict) and train_cfg.pop('augments', None):
        print_log(f"{key}: the batch augments of {path} (train_cfg."
                  'augments) are left out: mixing samples would break the '
                  'pairing of the two modalities', logger='current')
    if in_channels is not None:
        model['backbone']['in_channels'] = in_channels
    if num_classes is not None:
        for name in HEADS:
            if model.get(name):
                _set_classes(model[name], num_classes)
    return Config._merge_a_into_b(cfg, model)
