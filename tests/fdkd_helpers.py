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


def paired_batch(model, dataset_cfg, n: int = 4) -> dict:
    """``model``'s pre-processed training batch of the first ``n`` samples
    of the data set ``dataset_cfg`` builds (as the Runner collates them)."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from fdkd_plugin.registry import DATASETS
    with DefaultScope.overwrite_default_scope('fdkd'):
        dataset = DATASETS.build(dataset_cfg)
    return model.data_preprocessor(
        pseudo_collate([dataset[i] for i in range(n)]), True)


def sgd_steps(model, data: dict, steps: int = 2, lr: float = 0.01):
    """Train ``model`` ``steps`` SGD steps on ``data``; yield each step's
    loss dict (before its update)."""
    import torch
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        losses = model(**data, mode='loss')
        yield losses
        total, _ = model.parse_losses(losses)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()


def training_only(cfg, work_dir: str, name: str, epochs: int):
    """``cfg`` trains ``epochs`` epochs into ``work_dir/name`` and nothing
    else: no validation, schedule, checkpoints or custom hooks; the
    logger writes every iteration (the tests read the logged losses)."""
    import os.path as osp
    cfg.work_dir = osp.join(str(work_dir), name)
    cfg.experiment_name = name
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_hooks = []
    return cfg
