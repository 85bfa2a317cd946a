"""The ``fdkd`` registry scope: children of MMEngine's root registries.

Every part of the plugin registers here. Because each registry below is a
child of MMEngine's root one with the scope ``fdkd``, a config (or any code
holding the root registry) builds our parts with ``type='fdkd.X'``, and our
configs build host parts with their scope (``'mmpretrain.ResNet'``,
``'mmseg.EncoderDecoder'``, ``'mmrazor.KLDivergence'``). ``locations`` makes
the registry import the modules that fill it on first use, so
``custom_imports=dict(imports=['fdkd_plugin'])`` is all a config needs.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

SCOPE = 'fdkd'

MODELS = Registry('model', parent=MMENGINE_MODELS, scope=SCOPE,
                  locations=['fdkd_plugin.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS,
                          scope=SCOPE, locations=['fdkd_plugin.engine'])
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope=SCOPE,
                      locations=['fdkd_plugin.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope=SCOPE,
                    locations=['fdkd_plugin.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         scope=SCOPE, locations=['fdkd_plugin.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE,
                      locations=['fdkd_plugin.datasets.transforms'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=SCOPE,
                 locations=['fdkd_plugin.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=SCOPE,
                 locations=['fdkd_plugin.engine'])

__all__ = [
    'SCOPE', 'MODELS', 'MODEL_WRAPPERS', 'TASK_UTILS', 'DATASETS',
    'DATA_SAMPLERS', 'TRANSFORMS', 'HOOKS', 'LOOPS'
]
