# FDKD on avdigits: an audio teacher (trained with configs/unimodal/avdigits_audio.py)
# distills into a visual student.
_base_ = ['../_base_/av/avdigits.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.visual_model,
    teacher=_base_.audio_model,
    teacher_ckpt='work_dirs/avdigits_audio/selected.pth',
    student_modality='visual',
    teacher_modality='audio',
    distiller=_base_.fdkd_distiller)
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
