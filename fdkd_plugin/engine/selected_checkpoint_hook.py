"""Keep ``selected.pth`` in the work dir pointing at the checkpoint to use."""
import os
import os.path as osp
from typing import Dict, Optional

from mmengine.hooks import Hook

from fdkd_plugin.registry import HOOKS

__all__ = ['SelectedCheckpointHook']

_SOURCES = ('auto', 'best', 'last')


@HOOKS.register_module()
class SelectedCheckpointHook(Hook):
    """Link ``{work_dir}/{link_name}`` to the selected checkpoint.

    MMEngine names checkpoints after their metric and epoch
    (``best_accuracy_top1_epoch_7.pth``), so a distillation config cannot
    know the teacher's file in advance. With this hook every unimodal run
    leaves ``selected.pth`` and a teacher is simply ``teacher_ckpt=
    'work_dirs/r18-w32_1xb32-12e_avdigits-visual/selected.pth'``.

    The selection is the best checkpoint on the validation split when
    ``CheckpointHook(save_best=...)`` keeps one, else the last one (data sets
    without a validation split must not select on test). The link is
    relative and replaced atomically, so an interrupted run never leaves a
    dangling half-written link.

    Args:
        link_name (str): Name of the link. Defaults to ``'selected.pth'``.
        source (str): ``'best'``, ``'last'`` or ``'auto'`` (best when there
            is one, else last). Defaults to ``'auto'``.
    """

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW) has saved

    def __init__(self,
                 link_name: str = 'selected.pth',
                 source: str = 'auto') -> None:
        if not link_name or osp.sep in link_name:
            raise ValueError(f'link_name={link_name!r} must be a file name')
        if source not in _SOURCES:
            raise ValueError(f'source={source!r} must be one of {_SOURCES}')
        self.link_name = link_name
        self.source = source

    def _update(self, runner) -> None:
        if runner.rank != 0:
            return
        info = runner.message_hub.get_info
        best, last = info('best_ckpt'), info('last_ckpt')
        if self.source == 'best':
            target = best
        elif self.source == 'last':
            target = last
        else:
            target = best or last
        if not target or not osp.isfile(target):
            return
        link = osp.join(runner.work_dir, self.link_name)
        tmp = f'{link}.tmp'
        if osp.lexists(tmp):
            os.remove(tmp)
        os.symlink(osp.relpath(target, runner.work_dir), tmp)
        os.replace(tmp, link)

    def after_train_epoch(self, runner) -> None:
        self._update(runner)

    def after_val_epoch(self,
                        runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        self._update(runner)
