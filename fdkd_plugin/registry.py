"""The ``fdkd`` registry scope: children of MMEngine's root registries.

Every part of the plugin registers here. Because each registry below is a
child of MMEngine's root one with the scope ``fdkd``, a config (or any code
holding the root registry) builds our parts with ``type='fdkd.X'``, and our
configs build host parts with their scope (``'mmpretrain.ResNet'``,
``'mmseg.EncoderDecoder'``, ``'mmrazor.KLDivergence'``). ``locations`` makes
a registry import the modules that fill it on first use, so
``custom_imports=dict(imports=['fdkd_plugin'])`` is all a config needs.

Every MMEngine registry has an ``fdkd`` child, as in MMPretrain, so that with
``default_scope='fdkd'`` the look-up of an optimizer, metric or visualizer
finds the scope and falls back to MMEngine's root without warnings.
"""
from mmengine import registry as root
from mmengine.registry import Registry

SCOPE = 'fdkd'


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    return Registry(
        name,
        parent=parent,
        scope=SCOPE,
        locations=[f'fdkd_plugin.{loc}' for loc in locations])


# filled by fdkd
MODELS = _child('model', root.MODELS, 'models')
TASK_UTILS = _child('task util', root.TASK_UTILS, 'models')
DATASETS = _child('dataset', root.DATASETS, 'datasets')
TRANSFORMS = _child('transform', root.TRANSFORMS, 'datasets.transforms')
HOOKS = _child('hook', root.HOOKS, 'engine')
LOOPS = _child('loop', root.LOOPS, 'engine')
MODEL_WRAPPERS = _child('model_wrapper', root.MODEL_WRAPPERS, 'engine')

# present so that the fdkd scope exists in every registry tree
RUNNERS = _child('runner', root.RUNNERS)
RUNNER_CONSTRUCTORS = _child('runner constructor', root.RUNNER_CONSTRUCTORS)
DATA_SAMPLERS = _child('data sampler', root.DATA_SAMPLERS)
WEIGHT_INITIALIZERS = _child('weight initializer', root.WEIGHT_INITIALIZERS)
OPTIMIZERS = _child('optimizer', root.OPTIMIZERS)
OPTIM_WRAPPERS = _child('optim_wrapper', root.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    root.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child('parameter scheduler', root.PARAM_SCHEDULERS)
METRICS = _child('metric', root.METRICS)
EVALUATOR = _child('evaluator', root.EVALUATOR)
VISUALIZERS = _child('visualizer', root.VISUALIZERS)
VISBACKENDS = _child('vis_backend', root.VISBACKENDS)
LOG_PROCESSORS = _child('log_processor', root.LOG_PROCESSORS)
INFERENCERS = _child('inferencer', root.INFERENCERS)
FUNCTIONS = _child('function', root.FUNCTIONS)

__all__ = [
    'SCOPE', 'MODELS', 'TASK_UTILS', 'DATASETS', 'TRANSFORMS', 'HOOKS',
    'LOOPS', 'MODEL_WRAPPERS', 'RUNNERS', 'RUNNER_CONSTRUCTORS',
    'DATA_SAMPLERS', 'WEIGHT_INITIALIZERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR',
    'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS', 'INFERENCERS', 'FUNCTIONS'
]
