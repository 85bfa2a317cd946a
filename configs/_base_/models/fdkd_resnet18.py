# The FDKD distiller on ResNet-18: the feature is the input of the final
# ReLU of the last block (layer4.1), i.e. before the ReLU (paper A.3), pooled
# to (N, 512). mmpretrain's BasicBlock calls its `relu` twice per forward:
# record_idx=1 is the second, final call; data_idx=0 its only input.
# (MMRazor algorithms switch ReLUs to inplace=False, so the record is the
# pre-activation value.) A data config sets num_classes.
fdkd_distiller = dict(
    type='fdkd.FreqDecoupledDistiller',
    num_classes=2,
    in_channels=512,
    student_recorders=dict(
        feat=dict(type='mmrazor.ModuleInputs', source='backbone.layer4.1.relu')),
    teacher_recorders=dict(
        feat=dict(type='mmrazor.ModuleInputs', source='backbone.layer4.1.relu')),
    student_feat=dict(recorder='feat', record_idx=1, data_idx=0),
    teacher_feat=dict(recorder='feat', record_idx=1, data_idx=0),
    pool=True,
    cutoff=0.5,
    keep_dc=False,
    # the full method; each switch is one row of the paper's Table 3 / 4
    freq=True, align=True, scale=True, log=True, use_low=True, use_high=True,
    task_heads=True,
    lambda_low=1.0,
    lambda_high=1.0,
    reduction='mean',
)
cross_modal_val_cfg = dict(type='fdkd.CrossModalValLoop')
cross_modal_test_cfg = dict(type='fdkd.CrossModalTestLoop')
