# FDKD plus logit KD in one distiller (issue 14, item 5): an audio teacher
# distills into a visual student through FDKD's terms and, next to them,
# MMRazor's KLDivergence on the two classifiers' logits (the Logit baseline's
# loss, temperature and weight: configs/_base_/baselines/logit.py).
# fdkd.FreqDecoupledDistiller is an MMRazor ConfigurableDistiller, so any
# MMRazor loss joins it this way: a recorder on each side, the loss and its
# forward mapping.
_base_ = ['./fdkd_r18-w32_1xb32-12e_avdigits-visual-from-'
          'audio.py', '../_base_/baselines/logit.py']
_logit = _base_.logit_distiller
model = dict(
    distiller=dict(
        student_recorders=dict(logits=_logit.student_recorders.logits),
        teacher_recorders=dict(logits=_logit.teacher_recorders.logits),
        distill_losses=_logit.distill_losses,
        loss_forward_mappings=_logit.loss_forward_mappings))
