"""fdkd: frequency-decoupled cross-modal knowledge distillation for OpenMMLab.

Importing the package checks the host libraries' versions
(:mod:`fdkd_plugin.dependencies`), applies the run-time compatibility fixes
of :mod:`fdkd_plugin.compat` (they must precede the first ``import
mmrazor.models``) and registers every part in the ``fdkd`` scope.
"""
from . import dependencies

dependencies.check()

from . import compat  # noqa: E402

compat.apply_all()

from . import datasets, engine, models  # noqa: E402
from .registry import SCOPE  # noqa: E402
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'SCOPE', 'compat', 'datasets', 'engine', 'models']
