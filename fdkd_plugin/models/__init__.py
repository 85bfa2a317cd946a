"""Models of the fdkd scope: one file per loss, connector, distiller,
algorithm and data pre-processor."""
from . import (algorithms, backbones, classifiers, connectors,
               data_preprocessors, distillers, losses)
from .algorithms import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .connectors import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .distillers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403

__all__ = [
    "algorithms", "backbones", "classifiers", "connectors",
    "data_preprocessors", "distillers", "losses"
]
