# Cross-modal distillation on VGGSound: one model fragment per direction
# (fdkd.CrossModalDistill with the student, the teacher, their modalities
# and the checkpoint its unimodal config leaves, e.g.
# configs/unimodal/r18-3f_1xb64-100e_vggsound-visual.py), and the loops
# that validate both networks. A child adds a method's fragment, e.g.
#   model = dict(_base_.audio_from_visual, **_base_.dml_model)
_base_ = ['vggsound.py']
audio_from_visual = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.audio_model,
    teacher=_base_.visual_model,
    teacher_ckpt='work_dirs/r18-3f_1xb64-100e_vggsound-visual/selected.pth',
    student_modality='audio',
    teacher_modality='visual')
visual_from_audio = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.visual_model,
    teacher=_base_.audio_model,
    teacher_ckpt='work_dirs/r18_1xb64-100e_vggsound-audio/selected.pth',
    student_modality='visual',
    teacher_modality='audio')
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
