"""Ship the configs, tools and model index inside the package for OpenMMLab's
``mim``: ``mim train fdkd CONFIG`` / ``mim test`` / ``mim run fdkd TOOL``
look for them in ``fdkd_plugin/.mim/`` (as mmpretrain and mmrazor ship
theirs). Everything else about the package is in ``pyproject.toml``.

- a wheel (``pip wheel .``, ``pip install .``) gets a copy of ``configs/``,
  ``tools/`` and ``model-index.yml`` under ``fdkd_plugin/.mim/``;
- an editable install (``pip install -e .``) gets symbolic links in the
  source tree instead (``fdkd_plugin/.mim`` is git-ignored), so edits to a
  config are what ``mim`` runs.

The distribution is named ``fdkd`` and the module ``fdkd_plugin``; mim finds
the module through the wheel's ``top_level.txt``, so ``mim train fdkd`` works
with the two names (and an ``import fdkd`` would clash with nothing we ship).
"""
import os
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
MIM_ENTRIES = ('configs', 'tools', 'model-index.yml')
_SKIP = shutil.ignore_patterns('__pycache__', '*.pyc', '*.pyo')


def _place(src: str, dst: str, link: bool) -> None:
    if osp.islink(dst) or osp.isfile(dst):
        os.remove(dst)
    elif osp.isdir(dst):
        shutil.rmtree(dst)
    if link:
        os.symlink(osp.relpath(src, osp.dirname(dst)), dst)
    elif osp.isdir(src):
        shutil.copytree(src, dst, ignore=_SKIP)
    else:
        shutil.copyfile(src, dst)


class BuildPyWithMim(build_py):
    """``build_py`` that also lays out ``fdkd_plugin/.mim/``."""

    def run(self) -> None:
        super().run()
        editable = getattr(self, 'editable_mode', False)
        mim_dir = osp.join(ROOT if editable else self.build_lib, 'fdkd_plugin',
                           '.mim')
        os.makedirs(mim_dir, exist_ok=True)
        for name in MIM_ENTRIES:
            src = osp.join(ROOT, name)
            if not osp.exists(src):
                raise FileNotFoundError(
                    f'{src} is missing: the wheel needs it for mim (was the '
                    'source tree copied without it? MANIFEST.in lists it)')
            _place(src, osp.join(mim_dir, name), link=editable)


setup(cmdclass={'build_py': BuildPyWithMim})
