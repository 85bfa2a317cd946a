# Feat (FitNet-style feature MSE) across modalities: MMRazor's L2Loss as a
# plain mean squared error (normalize=False, div_element=True) on the same
# feature FDKD uses: the pre-ReLU output of ResNet-18's last block
# (input of layer4.1's final ReLU), average-pooled by a connector. This is
# the "Baseline" row of the paper's Table 3.
_feat = dict(type='mmrazor.ModuleInputs', source='backbone.layer4.1.relu')
_pool = dict(
    type='mmrazor.TorchFunctionalConnector',
    function_name='adaptive_avg_pool2d',
    func_args=dict(output_size=1))
feat_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=dict(feat=_feat),
    teacher_recorders=dict(feat=_feat),
    connectors=dict(pool_s=_pool, pool_t=_pool),
    distill_losses=dict(
        loss_feat=dict(
            type='mmrazor.L2Loss',
            loss_weight=1.0,
            normalize=False,
            div_element=True)),
    loss_forward_mappings=dict(
        loss_feat=dict(
            s_feature=dict(
                from_student=True,
                recorder='feat',
                record_idx=1,
                data_idx=0,
                connector='pool_s'),
            t_feature=dict(
                from_student=False,
                recorder='feat',
                record_idx=1,
                data_idx=0,
                connector='pool_t'))))
# The method's part of a child's model (configs/_base_/av/*_kd.py holds the
# direction's part)
feat_model = dict(distiller=feat_distiller)
