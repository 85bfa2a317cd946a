"""Helpers shared by the tests (``from fdkd_helpers import ...``)."""
import importlib.util
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_script(relpath: str):
    """Import a script under ``tools/`` or ``benchmarks/`` (not a package)
    by its path. Its folder goes on ``sys.path``, as when Python runs it
    (``sys.path[0]``), so its imports of sibling modules (``_common``,
    ``_video``) resolve the same way."""
    path = osp.join(REPO_ROOT, relpath)
    folder = osp.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_cfg_options(data_root: str, batch_size: int = 8) -> dict:
    """Overrides that point an AV-digits config at ``data_root`` and make
    its loaders small and single-process."""
    opts = {}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.dataset.data_root'] = data_root
        opts[f'{loader}.batch_size'] = batch_size
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
    return opts
