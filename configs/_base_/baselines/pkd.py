# PKD (Cao et al., NeurIPS 2022, "PKD: General Distillation Framework for
# Object Detectors via Pearson Correlation Coefficient") across modalities:
# MMRazor's PKDLoss standardizes each channel over the batch (and positions)
# on both sides, then takes half the MSE, which equals 1 - Pearson r per
# channel. Feature: the one Feat and FDKD use, the pre-ReLU output of
# ResNet-18's last block (input of layer4.1's final ReLU; record_idx=1 is
# the block's second ReLU call), average-pooled to (N, C, 1, 1) by a
# connector: audio and visual maps have different sizes and no spatial
# correspondence (PKDLoss itself wants 4-D maps of one size). Loss weight 6:
# MMRazor's published setting (configs/distill/mmdet/pkd, the FPN base
# config; its RetinaNet variant uses 10). Widths do not enter.
_feat = dict(type='mmrazor.ModuleInputs', source='backbone.layer4.1.relu')
_pool = dict(
    type='mmrazor.TorchFunctionalConnector',
    function_name='adaptive_avg_pool2d',
    func_args=dict(output_size=1))
pkd_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=dict(feat=_feat),
    teacher_recorders=dict(feat=_feat),
    connectors=dict(pool_s=_pool, pool_t=_pool),
    distill_losses=dict(
        loss_pkd=dict(type='mmrazor.PKDLoss', loss_weight=6.0)),
    loss_forward_mappings=dict(
        loss_pkd=dict(
            preds_S=dict(
                from_student=True,
                recorder='feat',
                record_idx=1,
                data_idx=0,
                connector='pool_s'),
            preds_T=dict(
                from_student=False,
                recorder='feat',
                record_idx=1,
                data_idx=0,
                connector='pool_t'))))
# The method's part of a child's model (configs/_base_/av/*_kd.py holds the
# direction's part)
pkd_model = dict(distiller=pkd_distiller)
