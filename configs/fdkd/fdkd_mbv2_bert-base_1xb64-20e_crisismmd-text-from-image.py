# FDKD on CrisisMMD: a MobileNetV2 image teacher (trained with
# configs/unimodal/mbv2_1xb64-100e_crisismmd-image.py, frozen) distills into
# a BERT-base text student (paper Table 1: 79.1 %). The student's 768-d
# [CLS] feature is mapped to the teacher's 1280 by the distiller's linear
# student_connector. The student's optimizer (paper A.4): Adam, fixed lr
# 1e-5, 20 epochs.
_base_ = ['../_base_/datasets/crisismmd.py', '../_base_/default_runtime.py']
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.text_model,
    teacher=_base_.image_model,
    teacher_ckpt='work_dirs/mbv2_1xb64-100e_crisismmd-image/selected.pth',
    student_modality='text',
    teacher_modality='image',
    distiller=_base_.fdkd_text_from_image)
optim_wrapper = _base_.bert_optim_wrapper
param_scheduler = _base_.bert_param_scheduler
train_cfg = _base_.bert_train_cfg
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
auto_scale_lr = dict(base_batch_size=64, enable=False)
