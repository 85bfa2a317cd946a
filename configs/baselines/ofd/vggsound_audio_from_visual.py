# ofd baseline on VGGSound: visual teacher -> audio student, through the
# same CrossModalDistill as FDKD (same data, networks and schedule).
_base_ = ['../../_base_/av/vggsound.py', '../../_base_/baselines/ofd.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.audio_model,
    teacher=_base_.visual_model,
    teacher_ckpt='work_dirs/vggsound_visual/selected.pth',
    student_modality='audio',
    teacher_modality='visual',
    distiller=_base_.ofd_distiller)
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
