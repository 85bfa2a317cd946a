# AFD ablation, AV-digits (audio <- visual): the official KD term kept,
# the feature loss on the 4 stage outputs (backbone.layer1..4) instead of
# the official every-block outputs. With afd-nokd_* it separates the two
# changes that took AFD from 17.5 points below Uni to 5.6 below (A, seed 0,
# docs/results.md, "DML, C2KD and AFD before and after"): this config is
# the old layer choice plus the KD term, afd-nokd_* the new layers without
# it. Not a Table 1 cell (run_table.py runs afd_* only).
_base_ = ['./afd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py']
_stages = {
    f'layer{k}':
    dict(type='mmrazor.ModuleOutputs', source=f'backbone.layer{k}')
    for k in (1, 2, 3, 4)
}
_widths = [_base_.afd_channels.student_channels[i] for i in (0, 2, 4, 6)]
_logits = _base_.afd_distiller.student_recorders.logits
model = dict(
    distiller=dict(
        _delete_=True,
        type='mmrazor.ConfigurableDistiller',
        student_recorders=dict(_stages, logits=_logits),
        teacher_recorders=dict(_stages, logits=_logits),
        distill_losses=dict(
            loss_afd=dict(
                _base_.afd_distiller.distill_losses.loss_afd,
                student_channels=_widths,
                teacher_channels=_widths),
            loss_kl=_base_.afd_distiller.distill_losses.loss_kl),
        loss_forward_mappings=dict(
            loss_afd={
                f'{side}_feat_{k}':
                dict(from_student=side == 'student', recorder=f'layer{k}')
                for side in ('student', 'teacher')
                for k in (1, 2, 3, 4)
            },
            loss_kl=_base_.afd_distiller.loss_forward_mappings.loss_kl)))
