# c2kd baseline on VGGSound: visual teacher -> audio student, through the
# same CrossModalDistill as FDKD (same data, networks and schedule).
_base_ = ['../../_base_/av/vggsound.py', '../../_base_/baselines/c2kd.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.audio_model,
    teacher=_base_.visual_model,
    teacher_ckpt='work_dirs/vggsound_visual/selected.pth',
    student_modality='audio',
    teacher_modality='visual',
    teacher_trainable=True,  # C2KD trains the teacher jointly
    distiller=dict(
        _base_.c2kd_distiller,
        distill_losses=dict(
            _base_.c2kd_distiller.distill_losses,
            loss_c2kd=dict(
                _base_.c2kd_distiller.distill_losses.loss_c2kd,
                # the VGGSound classes
                num_classes=_base_.num_classes))))
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
