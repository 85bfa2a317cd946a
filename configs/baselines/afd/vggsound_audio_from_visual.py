# afd baseline on VGGSound: visual teacher -> audio student, through the
# same CrossModalDistill as FDKD (same data, networks and schedule).
_base_ = ['../../_base_/av/vggsound.py', '../../_base_/baselines/afd.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.audio_model,
    teacher=_base_.visual_model,
    teacher_ckpt='work_dirs/vggsound_visual/selected.pth',
    student_modality='audio',
    teacher_modality='visual',
    distiller=dict(
        _base_.afd_distiller,
        # the visual network is wrapped by fdkd.MultiFrameBackbone
        teacher_recorders=dict(
            block1=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer1.0'),
            block2=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer1.1'),
            block3=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer2.0'),
            block4=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer2.1'),
            block5=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer3.0'),
            block6=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer3.1'),
            block7=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer4.0'),
            block8=dict(
                type='mmrazor.ModuleOutputs',
                source='backbone.backbone.layer4.1'),
            logits=dict(type='mmrazor.ModuleOutputs', source='head.fc')),
        connectors=dict(
            # its inner layers record one row per frame, (N*k, ...): the
            # clip mean (fdkd.FrameMean) comes first
            frame_mean=_base_.frame_mean),
        loss_forward_mappings=dict(
            _base_.afd_distiller.loss_forward_mappings,
            loss_afd=dict(
                _base_.afd_distiller.loss_forward_mappings.loss_afd,
                teacher_feat_1=dict(
                    from_student=False,
                    recorder='block1',
                    connector='frame_mean'),
                teacher_feat_2=dict(
                    from_student=False,
                    recorder='block2',
                    connector='frame_mean'),
                teacher_feat_3=dict(
                    from_student=False,
                    recorder='block3',
                    connector='frame_mean'),
                teacher_feat_4=dict(
                    from_student=False,
                    recorder='block4',
                    connector='frame_mean'),
                teacher_feat_5=dict(
                    from_student=False,
                    recorder='block5',
                    connector='frame_mean'),
                teacher_feat_6=dict(
                    from_student=False,
                    recorder='block6',
                    connector='frame_mean'),
                teacher_feat_7=dict(
                    from_student=False,
                    recorder='block7',
                    connector='frame_mean'),
                teacher_feat_8=dict(
                    from_student=False,
                    recorder='block8',
                    connector='frame_mean')))))
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
