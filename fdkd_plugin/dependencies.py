"""The versions of the host libraries fdkd supports, in one place.

``requirements/mminstall.txt`` and the OpenMMLab lines of
``requirements/runtime.txt`` list the same ranges (a test keeps them
equal); ``requirements/constraints.txt`` holds the exact versions the
suite runs on. :func:`check` runs at ``import fdkd_plugin``, before the
compatibility fixes of :mod:`fdkd_plugin.compat` patch these libraries'
internals, so a version they were not written for fails with the installed
and the supported version instead of an ``AttributeError`` deep inside a
patch.

- ``REQUIRED``: out of range is an error. The lower bounds are the tested
  versions (the fixes patch their code); the upper bounds are the next
  minor release, except mmcv's, which MMSegmentation itself caps at 2.2.0,
  and mmengine's (0.10 is its last series).
- ``TESTED``: out of range is a warning: other versions may work but the
  suite has not run on them.
"""
import warnings
from importlib import metadata
from typing import Callable, Dict, List, Optional

from packaging.specifiers import SpecifierSet
from packaging.version import Version

__all__ = ['REQUIRED', 'TESTED', 'problems', 'check']

# distribution name: supported range
REQUIRED: Dict[str, str] = {
    'mmengine': '>=0.10.7,<1.0.0',
    'mmcv': '>=2.1.0,<2.2.0',
    'mmpretrain': '>=1.2.0,<1.3.0',
    'mmsegmentation': '>=1.2.2,<1.3.0',
    'mmrazor': '>=1.0.0,<1.1.0',
}
TESTED: Dict[str, str] = {
    'torch': '>=2.14,<2.15',
    'torchvision': '>=0.29,<0.30',
}

INSTALL_HINT = ('install the supported versions with `pip install -c '
                'requirements/constraints.txt -r requirements/runtime.txt` '
                '(see docs/install.md)')


def problems(
    ranges: Dict[str, str],
    installed: Callable[[str], Optional[str]] = None,
) -> List[str]:
    """One line per distribution of ``ranges`` that is missing or out of
    range: ``'mmcv 2.2.0 is installed; fdkd supports mmcv>=2.1.0,<2.2.0'``.

    ``installed`` maps a distribution name to its version or None
    (default: the environment's ``importlib.metadata``).
    """
    installed = installed or _installed_version
    out = []
    for name, spec in ranges.items():
        version = installed(name)
        if version is None:
            out.append(f'{name} is not installed; fdkd needs {name}{spec}')
        elif Version(version) not in SpecifierSet(spec, prereleases=True):
            out.append(f'{name} {version} is installed; fdkd supports '
                       f'{name}{spec}')
    return out


def check(installed: Callable[[str], Optional[str]] = None) -> None:
    """Raise ``ImportError`` for a required library out of range; warn for
    an untested version of torch / torchvision."""
    errors = problems(REQUIRED, installed)
    if errors:
        raise ImportError('fdkd: ' + '; '.join(errors) + '. ' +
                          INSTALL_HINT)
    untested = problems(TESTED, installed)
    if untested:
        warnings.warn(
            'fdkd: ' + '; '.join(untested) +
            ' (an untested version: the suite runs on '
            'requirements/constraints.txt)',
            stacklevel=3)


def _installed_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
