# dml baseline on CREMA-D: audio teacher -> visual student, through the
# same CrossModalDistill as FDKD (same data, networks and schedule).
_base_ = ['../../_base_/av/crema_d.py', '../../_base_/baselines/dml.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.visual_model,
    teacher=_base_.audio_model,
    teacher_ckpt=None,  # DML starts both networks from scratch
    student_modality='visual',
    teacher_modality='audio',
    teacher_trainable=True,  # DML: the two networks learn from each other
    distiller=_base_.dml_distiller)
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
