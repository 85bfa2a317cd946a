# OFD (Heo et al., ICCV 2019, "A Comprehensive Overhaul of Feature
# Distillation") across modalities, with MMRazor's parts:
# - feature: the output of the last BN of ResNet-18's last block
#   (backbone.layer4.1.bn2), pre-ReLU. mmrazor.OFDDistiller reads the
#   teacher's margin from the module its teacher recorder hooks, which must
#   be a BatchNorm2d, so the feature is the residual branch before the
#   identity is added (the original adds it; its margin comes from this BN);
# - teacher: mmrazor.OFDTeacherConnector, max(t, m) with the per-channel
#   margin m = E[t | t < 0] of the Gaussian N(bias, weight^2) of that BN,
#   set from the loaded teacher when fdkd.CrossModalDistill is built;
# - student: 1x1 conv + BN to the teacher width (the original's and
#   MMRazor's connector), then average-pooled to (N, C, 1, 1);
# - mmrazor.OFDLoss: the partial L2, sum over the elements where
#   s > t or t > 0, divided by N and by 1000, loss weight 1 (MMRazor's
#   weight for the last stage, configs/distill/mmcls/ofd).
# Audio and visual maps differ in size and have no spatial correspondence:
# the student's pooled vector is compared with every position of the
# teacher's map (OFDLoss broadcasts (N, C, 1, 1) against (N, C, h, w); torch
# warns once about the size difference). For a 1x1 teacher map this is the
# partial L2 of pooled features. Widths: full-width ResNet-18 (512);
# configs/_base_/av/avdigits.py holds the half-width student connector
# (ofd_student_connector).
_bn = dict(type='mmrazor.ModuleOutputs', source='backbone.layer4.1.bn2')
_student = [
    dict(
        type='mmrazor.ConvModuleConnector',
        in_channel=512,
        out_channel=512,
        norm_cfg=dict(type='BN'),
        act_cfg=None),
    dict(
        type='mmrazor.TorchFunctionalConnector',
        function_name='adaptive_avg_pool2d',
        func_args=dict(output_size=1)),
]
ofd_distiller = dict(
    type='mmrazor.OFDDistiller',
    student_recorders=dict(feat=_bn),
    teacher_recorders=dict(feat=_bn),
    connectors=dict(
        loss_ofd_sfeat=_student,
        loss_ofd_tfeat=dict(type='mmrazor.OFDTeacherConnector')),
    distill_losses=dict(
        loss_ofd=dict(type='mmrazor.OFDLoss', loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_ofd=dict(
            s_feature=dict(
                from_student=True, recorder='feat',
                connector='loss_ofd_sfeat'),
            t_feature=dict(
                from_student=False,
                recorder='feat',
                connector='loss_ofd_tfeat'))))
