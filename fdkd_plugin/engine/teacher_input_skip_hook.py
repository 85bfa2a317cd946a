"""``fdkd.TeacherInputSkipHook``: once the teacher cache serves a whole
epoch, the training loader stops loading the teacher's input."""
from typing import Optional

import torch
from mmengine.dataset import DefaultSampler
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from fdkd_plugin.registry import HOOKS

__all__ = ['TeacherInputSkipHook']


@HOOKS.register_module()
class TeacherInputSkipHook(Hook):
    """Skip the teacher modality's loading on the epochs the cache serves.

    For a ``fdkd.CrossModalDistill`` with ``teacher_cache`` whose
    ``skip_inputs`` is on (the default), it wraps the training data set's
    pipeline before the loader's workers start
    (:mod:`~fdkd_plugin.models.algorithms.teacher_cache.input_skip`), then
    before each epoch lists the epoch's samples from the sampler (seeded
    for that epoch, as ``DistSamplerSeedHook`` seeds it) and sets the
    shared flag when the cache serves all of them
    (``TeacherCache.serves``: cached and, with ``verify_inputs``, checked
    once against a second visit), on every rank. With a deterministic
    teacher pipeline the first epoch fills the cache, the second verifies
    it, and from the third on the workers load the student's modality only;
    the run is bitwise the one that loads both.

    It does nothing for other models, without a cache, with
    ``skip_inputs=False``, for a random teacher-side pipeline, or for a
    sampler other than MMEngine's ``DefaultSampler`` (whose order is a
    function of the seed and the epoch; it then says why, once).
    ``configs/_base_/default_runtime.py`` registers it.
    """

    priority = 'ABOVE_NORMAL'  # before DistSamplerSeedHook's set_epoch

    def __init__(self) -> None:
        self.flag: Optional[torch.Tensor] = None
        self.cache = None
        self.skipped: str = ''

    @staticmethod
    def _cache_of(runner):
        from fdkd_plugin.models.algorithms.cross_modal_distill import \
            CrossModalDistill
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not isinstance(model, CrossModalDistill):
            return None
        cache = model.teacher_cache
        return cache if cache is not None and cache.skip_inputs else None

    def before_train(self, runner) -> None:
        from fdkd_plugin.models.algorithms.teacher_cache import input_skip
        self.cache = self._cache_of(runner)
        if self.cache is None:
            return
        loader = runner.train_loop.dataloader
        if not isinstance(loader.sampler, DefaultSampler):
            # its order must be a function of (seed, epoch) alone: listing
            # an epoch ahead must not draw from a global generator
            why = (f'its sampler {type(loader.sampler).__name__} is no '
                   'mmengine DefaultSampler')
            flag = None
        else:
            flag, why = input_skip.install(loader.dataset,
                                           self.cache.teacher_modality,
                                           self.cache.random_transforms)
        if flag is None:
            print_log(
                'teacher_cache.skip_inputs: the teacher\'s input stays in '
                f'every epoch: {why}', logger='current')
            return
        self.flag, self.skipped = flag, why

    def before_train_epoch(self, runner) -> None:
        if self.flag is None:
            return
        sampler = runner.train_loop.dataloader.sampler
        sampler.set_epoch(runner.epoch)
        ready = torch.tensor(float(self.cache.serves(list(iter(sampler)))))
        if get_world_size() > 1:
            all_reduce(ready, op='min')  # every rank, or none
        was = bool(self.flag[0])
        self.flag[0] = int(ready.item() == 1)
        if self.flag[0] and not was:
            print_log(
                f'teacher_cache: every sample of epoch {runner.epoch + 1} is '
                f'cached; the loader skips {self.skipped}',
                logger='current')
