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
    distiller=dict(
        _base_.ofd_distiller,
        # the visual network is wrapped by fdkd.MultiFrameBackbone
        teacher_recorders=dict(
            stage1=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer1.1.bn2'),
            stage2=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer2.1.bn2'),
            stage3=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer3.1.bn2'),
            stage4=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer4.1.bn2')),
        connectors=dict(
            _base_.ofd_distiller.connectors,
            # its inner layers record one row per frame, (N*k, ...): the
            # clip mean (fdkd.FrameMean) comes first
            loss_ofd1_tfeat=dict(
                type='fdkd.FrameMeanOFDTeacherConnector',
                num_frames=_base_.num_frames),
            loss_ofd2_tfeat=dict(
                type='fdkd.FrameMeanOFDTeacherConnector',
                num_frames=_base_.num_frames),
            loss_ofd3_tfeat=dict(
                type='fdkd.FrameMeanOFDTeacherConnector',
                num_frames=_base_.num_frames),
            loss_ofd4_tfeat=dict(
                type='fdkd.FrameMeanOFDTeacherConnector',
                num_frames=_base_.num_frames))))
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
