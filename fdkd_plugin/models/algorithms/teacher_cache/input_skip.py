"""Stop loading the teacher's input once the cache serves every sample
(``teacher_cache=dict(skip_inputs=True)``, the default; switched by
``fdkd.TeacherInputSkipHook``).

A cached epoch needs no teacher input, yet the loader's workers would still
load and transform it for every sample (on V <- A: read the WAV and compute
its spectrogram, the costliest part of the pipeline). :func:`install` wraps
the training data set's pipeline in place, before the workers start:

- each transform that writes the teacher modality and nothing else
  (``LoadAudio``, ``Spectrogram``) in :class:`SkipWhenCached`, which passes
  the results through while a flag is set;
- the packer (``PackMultiModalInputs``) in :class:`PackWithoutTeacher`,
  which then packs the other modalities only.

The flag is one byte of shared memory, so the hook sets it in the main
process and every worker (forked or spawned, persistent or not) reads it
for the next epoch. The skipped transforms are deterministic (a random one
turns skipping off), so they draw nothing from the workers' random
generators: the student's augmentations, and hence the whole run, are
bitwise those of a run that loads the teacher's input every epoch.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmcv.transforms import BaseTransform

from fdkd_plugin.datasets.transforms.formatting import PackMultiModalInputs
from .pipeline_check import written_keys

__all__ = ['SkipWhenCached', 'PackWithoutTeacher', 'install', 'new_flag']


def new_flag() -> torch.Tensor:
    """A one-byte flag in shared memory (0: load the teacher's input)."""
    return torch.zeros(1, dtype=torch.uint8).share_memory_()


class SkipWhenCached(BaseTransform):
    """``transform`` unless ``flag`` is set, then the results as they are.

    Args:
        transform (callable): A built transform of the teacher modality.
        flag (Tensor): The shared flag (:func:`new_flag`).
    """

    def __init__(self, transform, flag: torch.Tensor) -> None:
        self.inner = transform
        self.flag = flag

    def transform(self, results: dict) -> dict:
        if self.flag[0]:
            return results
        return self.inner(results)

    def __repr__(self) -> str:
        return f'SkipWhenCached({self.inner!r})'


class PackWithoutTeacher(BaseTransform):
    """``pack`` unless ``flag`` is set, then the same packer without the
    teacher modality.

    Args:
        pack (PackMultiModalInputs): The pipeline's packer.
        teacher_modality (str): The modality to leave out.
        flag (Tensor): The shared flag (:func:`new_flag`).
    """

    def __init__(self, pack: PackMultiModalInputs, teacher_modality: str,
                 flag: torch.Tensor) -> None:
        self.full = pack
        self.light = PackMultiModalInputs(
            modalities=[m for m in pack.modalities if m != teacher_modality],
            meta_keys=pack.meta_keys,
            task=pack.task)
        self.flag = flag

    def transform(self, results: dict) -> dict:
        return (self.light if self.flag[0] else self.full)(results)

    def __repr__(self) -> str:
        return f'PackWithoutTeacher({self.full!r})'


def _plan(transforms: Sequence, teacher_modality: str
          ) -> Tuple[List[int], Optional[int], Optional[str]]:
    """Positions of the teacher-only transforms, of the packer, or why
    the pipeline cannot do without the teacher's input."""
    teacher_only, pack = [], None
    for i, name, _, keys in written_keys(transforms):
        t = transforms[i]
        if isinstance(t, PackMultiModalInputs):
            if teacher_modality in t.modalities:
                if len(t.modalities) == 1:
                    return [], None, f'#{i} {name} packs only the teacher'
                pack = i
            continue
        if isinstance(t, (SkipWhenCached, PackWithoutTeacher)):
            return [], None, 'the pipeline is wrapped already'
        if keys is None:
            return [], None, (f'#{i} {name} declares no keys it writes, so '
                              'it may need the teacher\'s input')
        if teacher_modality not in keys:
            continue
        if set(keys) != {teacher_modality}:
            return [], None, (f'#{i} {name} writes {sorted(keys)}: the '
                              'teacher modality and others')
        teacher_only.append(i)
    if pack is None:
        return [], None, ('no PackMultiModalInputs packs the teacher '
                          f'modality {teacher_modality!r}')
    return teacher_only, pack, None


def install(dataset, teacher_modality: str,
            random_transforms: Sequence[str] = ()
            ) -> Tuple[Optional[torch.Tensor], str]:
    """Wrap ``dataset``'s pipeline so that a flag skips the teacher's input.

    Args:
        dataset: The training data set (its ``pipeline`` an MMEngine
            ``Compose`` of built transforms).
        teacher_modality (str): The teacher's results key.
        random_transforms (Sequence[str]): The cache's random teacher-side
            transforms (``TeacherCache.random_transforms``); any turns
            skipping off: skipping them would shift the workers' random
            draws, and so the student's augmentations.

    Returns:
        tuple: ``(flag, what)``: the shared flag and the names of the
        skipped transforms, or ``(None, why not)`` with the pipeline
        unchanged.
    """
    if random_transforms:
        return None, ('the teacher-side pipeline draws at random '
                      f'({"; ".join(random_transforms)})')
    compose = getattr(dataset, 'pipeline', None)
    transforms = getattr(compose, 'transforms', None)
    if not isinstance(transforms, list):
        return None, (f'{type(dataset).__name__} has no pipeline of '
                      'transforms to change (a wrapped data set?)')
    teacher_only, pack, why = _plan(transforms, teacher_modality)
    if why is not None:
        return None, why
    flag = new_flag()
    for i in teacher_only:
        transforms[i] = SkipWhenCached(transforms[i], flag)
    transforms[pack] = PackWithoutTeacher(transforms[pack], teacher_modality,
                                          flag)
    names = [type(transforms[i].inner).__name__ for i in teacher_only]
    return flag, ', '.join(names) + ' and the teacher part of the packer'
