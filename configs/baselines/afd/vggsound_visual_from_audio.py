# afd baseline on VGGSound: audio teacher -> visual student, through the
# same CrossModalDistill as FDKD (same data, networks and schedule).
_base_ = ['../../_base_/av/vggsound.py', '../../_base_/baselines/afd.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.visual_model,
    teacher=_base_.audio_model,
    teacher_ckpt='work_dirs/vggsound_audio/selected.pth',
    student_modality='visual',
    teacher_modality='audio',
    distiller=_base_.afd_distiller)
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
