# OFD (Heo et al., ICCV 2019, "A Comprehensive Overhaul of Feature
# Distillation") across modalities, as its official code runs it
# (clovaai/overhaul-distillation, ImageNet/distiller.py; MMRazor's
# configs/distill/mmcls/ofd likewise), with MMRazor's parts:
# - features: the pre-ReLU end of every stage of ResNet-18, stage k
#   weighted 1 / 2^(4 - k) (1/8, 1/4, 1/2, 1: the official
#   `/ 2 ** (feat_num - i - 1)`). mmrazor.OFDDistiller reads the teacher's
#   margin from the module its teacher recorder hooks, which must be a
#   BatchNorm2d, so each feature is the output of the stage's last BN
#   (backbone.layerK.1.bn2), the residual branch before the identity is
#   added (the official code adds it; its margin comes from this same BN);
# - teacher: mmrazor.OFDTeacherConnector, max(t, m) with the per-channel
#   margin m = E[t | t < 0] of the Gaussian N(bias, weight^2) of that BN,
#   set from the loaded teacher when fdkd.CrossModalDistill is built;
# - student: 1x1 conv + BN to the teacher width (the official connector),
#   then average-pooled to (N, C, 1, 1);
# - mmrazor.OFDLoss: the partial L2, sum over the elements where
#   s > t or t > 0, divided by N and by 1000 (the official CIFAR scale;
#   ImageNet divides by 10000).
# An earlier version distilled the last stage only (the FDKD feature's
# layer); the official code and MMRazor's config distill every stage.
# Audio and visual maps differ in size and have no spatial correspondence:
# the student's pooled vector is compared with every position of the
# teacher's map (OFDLoss broadcasts (N, C, 1, 1) against (N, C, h, w); torch
# warns once about the size difference). Widths: full-width ResNet-18
# (64 .. 512); configs/_base_/av/avdigits.py holds the half-width student
# connectors (ofd_student_connectors).
_widths = {1: 64, 2: 128, 3: 256, 4: 512}
_bn = {
    f'stage{k}':
    dict(type='mmrazor.ModuleOutputs', source=f'backbone.layer{k}.1.bn2')
    for k in _widths
}
_pool = dict(
    type='mmrazor.TorchFunctionalConnector',
    function_name='adaptive_avg_pool2d',
    func_args=dict(output_size=1))
_connectors = {
    f'loss_ofd{k}_sfeat': [
        dict(
            type='mmrazor.ConvModuleConnector',
            in_channel=w,
            out_channel=w,
            norm_cfg=dict(type='BN'),
            act_cfg=None), _pool
    ]
    for k, w in _widths.items()
}
_connectors.update({
    f'loss_ofd{k}_tfeat': dict(type='mmrazor.OFDTeacherConnector')
    for k in _widths
})
ofd_distiller = dict(
    type='mmrazor.OFDDistiller',
    student_recorders=_bn,
    teacher_recorders=_bn,
    connectors=_connectors,
    distill_losses={
        f'loss_ofd{k}': dict(type='mmrazor.OFDLoss', loss_weight=2.0**(k - 4))
        for k in _widths
    },
    loss_forward_mappings={
        f'loss_ofd{k}': dict(
            s_feature=dict(
                from_student=True,
                recorder=f'stage{k}',
                connector=f'loss_ofd{k}_sfeat'),
            t_feature=dict(
                from_student=False,
                recorder=f'stage{k}',
                connector=f'loss_ofd{k}_tfeat'))
        for k in _widths
    })
# The method's part of a child's model (configs/_base_/av/*_kd.py holds the
# direction's part)
ofd_model = dict(distiller=ofd_distiller)
