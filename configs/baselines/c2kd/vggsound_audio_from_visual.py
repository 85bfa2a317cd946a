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
                num_classes=_base_.num_classes)),
        # the visual network is wrapped by fdkd.MultiFrameBackbone
        teacher_recorders=dict(
            feat=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer3'),
            logits=dict(type='mmrazor.ModuleOutputs', source='head.fc')),
        connectors=dict(
            # its inner layers record one row per frame, (N*k, ...): the
            # clip mean (fdkd.FrameMean) comes first
            frame_mean=_base_.frame_mean),
        loss_forward_mappings=dict(
            _base_.c2kd_distiller.loss_forward_mappings,
            loss_c2kd=dict(
                _base_.c2kd_distiller.loss_forward_mappings.loss_c2kd,
                teacher_feat=dict(
                    from_student=False,
                    recorder='feat',
                    connector='frame_mean')))))
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
