# FDKD on vggsound: an audio teacher (trained with configs/unimodal/vggsound_audio.py)
# distills into a visual student.
_base_ = ['../_base_/av/vggsound.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.visual_model,
    teacher=_base_.audio_model,
    teacher_ckpt='work_dirs/vggsound_audio/selected.pth',
    student_modality='visual',
    teacher_modality='audio',
    distiller=_base_.fdkd_distiller)
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
