# FDKD on vggsound: a visual teacher (trained with configs/unimodal/vggsound_visual.py)
# distills into an audio student.
_base_ = ['../_base_/av/vggsound.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.audio_model,
    teacher=_base_.visual_model,
    teacher_ckpt='work_dirs/vggsound_visual/selected.pth',
    student_modality='audio',
    teacher_modality='visual',
    distiller=dict(
        _base_.fdkd_distiller,
        # the visual network is wrapped by fdkd.MultiFrameBackbone,
        teacher_recorders=dict(
            feat=dict(
                type='mmrazor.ModuleInputs',
                source='backbone.backbone.layer4.1.relu')),
        # which records one row per frame, (N*k, ...): fdkd.FrameMean takes
        # the clip mean, (N*k, 512) -> (N, 512), after the distiller's
        # pooling (either order gives the same: both are means)
        teacher_connector=_base_.frame_mean))
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
