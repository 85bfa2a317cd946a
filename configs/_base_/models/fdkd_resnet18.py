# The FDKD distiller. feature='auto' finds the feature the paper distills
# (A.3: the pre-activation output of the last stage) by tracing both
# networks once at build, and sets the recorders, in_channels (the teacher's
# width) and, when the widths differ, a learned projection of the student's
# feature (fdkd_plugin/models/algorithms/auto_feature.py). On mmpretrain's
# ResNet-18 it is the input of the second call of layer4's last ReLU,
# pooled to (N, 512) (N, 256 at half width); the log prints the choice once,
# and the explicit recorders pin it:
#     student_recorders=dict(feat=dict(type='mmrazor.ModuleInputs',
#                                      source='backbone.layer4.1.relu')),
#     student_feat=dict(recorder='feat', record_idx=1, data_idx=0),
#     (and the same for the teacher), in_channels=512
# (MMRazor algorithms switch ReLUs to inplace=False, so the record is the
# pre-activation value.) A data config sets num_classes.
fdkd_distiller = dict(
    type='fdkd.FreqDecoupledDistiller',
    num_classes=2,
    feature='auto',
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
