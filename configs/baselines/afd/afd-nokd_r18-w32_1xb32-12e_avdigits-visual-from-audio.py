# AFD ablation, AV-digits (visual <- audio): the official every-block
# feature loss without the official 0.9 x KD term on the logits. With
# afd-stages_* it separates the two changes that took AFD from 17.5 points
# below Uni to 5.6 below (A, seed 0, docs/results.md, "DML, C2KD and AFD
# before and after"). Not a Table 1 cell (run_table.py runs afd_* only).
_base_ = ['./afd_r18-w32_1xb32-12e_avdigits-visual-from-audio.py']
_distiller = _base_.model.distiller
_blocks = {
    k: v
    for k, v in _distiller.student_recorders.items() if k != 'logits'
}
model = dict(
    distiller=dict(
        student_recorders=dict(_delete_=True, **_blocks),
        teacher_recorders=dict(_delete_=True, **_blocks),
        distill_losses=dict(
            _delete_=True, loss_afd=_distiller.distill_losses.loss_afd),
        loss_forward_mappings=dict(
            _delete_=True,
            loss_afd=_distiller.loss_forward_mappings.loss_afd)))
