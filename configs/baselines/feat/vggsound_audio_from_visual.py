# feat baseline on VGGSound: visual teacher -> audio student, through the
# same CrossModalDistill as FDKD (same data, networks and schedule).
_base_ = ['../../_base_/av/vggsound.py', '../../_base_/baselines/feat.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.audio_model,
    teacher=_base_.visual_model,
    teacher_ckpt='work_dirs/vggsound_visual/selected.pth',
    student_modality='audio',
    teacher_modality='visual',
    distiller=dict(
        _base_.feat_distiller,
        # the visual network is wrapped by fdkd.MultiFrameBackbone
        teacher_recorders=dict(
            feat=dict(
                type='mmrazor.ModuleInputs',
                source='backbone.backbone.layer4.1.relu')),
        connectors=dict(
            _base_.feat_distiller.connectors,
            # its inner layers record one row per frame, (N*k, ...): the
            # clip mean (fdkd.FrameMean) comes first
            pool_t=[
                _base_.frame_mean,
                _base_.feat_distiller.connectors.pool_t
            ])))
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
