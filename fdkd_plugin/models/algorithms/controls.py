"""The controls every distillation claim needs, as one option of
``fdkd.CrossModalDistill``: ``control='untrained_teacher'`` or
``control='no_teacher_terms'``.

- ``untrained_teacher``: the teacher keeps its random initialization
  (``teacher_ckpt`` is not loaded); everything else is the method. A gain
  that survives it does not come from what the teacher learned.
- ``no_teacher_terms``: every loss term that reads the teacher is dropped;
  what stays is what the method adds on the student alone (for FDKD its
  band classifiers: L_task on the bands and the student's half of L_align;
  for a pure teacher-matching loss, nothing, i.e. the Uni row).

For any MMRazor ``ConfigurableDistiller`` a term reads the teacher when one
of its ``loss_forward_mappings`` has ``from_student=False``; a distiller
with its own terms (``fdkd.FreqDecoupledDistiller``) has a
``teacher_terms`` switch, which is turned off.
"""
from typing import List, Optional

from mmengine.logging import print_log

__all__ = ['CONTROLS', 'check_control', 'drop_teacher_terms']

#: the controls, with the row label the results collector gives them
CONTROLS = {
    'untrained_teacher': 'untrained teacher',
    'no_teacher_terms': 'no teacher terms',
}


def check_control(control: Optional[str], key: str) -> Optional[str]:
    """``control`` if it is None or one of :data:`CONTROLS`; else an error
    naming ``key``."""
    if control is not None and control not in CONTROLS:
        raise ValueError(f'{key}={control!r} must be None or one of '
                         f'{sorted(CONTROLS)}')
    return control


def drop_teacher_terms(distiller) -> List[str]:
    """Remove every loss term of ``distiller`` that reads the teacher.

    Returns:
        list[str]: What was removed: MMRazor loss names, and
        ``'teacher_terms'`` for a distiller whose switch was turned off.
    """
    dropped = []
    mappings = getattr(distiller, 'loss_forward_mappings', None) or {}
    for name in list(mappings):
        if any(not record.get('from_student', True)
               for record in mappings[name].values()):
            del mappings[name]
            del distiller.distill_losses[name]
            dropped.append(name)
    if getattr(distiller, 'teacher_terms', False):
        distiller.teacher_terms = False
        dropped.append('teacher_terms')
    print_log(
        'control no_teacher_terms: dropped ' +
        (', '.join(dropped) if dropped else 'nothing (no term reads the '
         'teacher)'),
        logger='current')
    return dropped
