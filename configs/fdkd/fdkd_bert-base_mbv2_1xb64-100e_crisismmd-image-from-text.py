# FDKD on CrisisMMD: a BERT-base text teacher (trained with
# configs/unimodal/bert-base_1xb64-20e_crisismmd-text.py, frozen) distills
# into a MobileNetV2 image student (paper Table 1: 72.7 %). The student's
# 1280-d feature is mapped to the teacher's 768 by the distiller's linear
# student_connector. Only the student trains, with its own optimizer (paper
# A.4): SGD momentum 0.9, lr 1e-2, poly 0.9, 100 epochs.
_base_ = [
    '../_base_/datasets/crisismmd.py', '../_base_/schedules/sgd_poly_100e.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.image_model,
    teacher=_base_.text_model,
    teacher_ckpt='work_dirs/bert-base_1xb64-20e_crisismmd-text/selected.pth',
    student_modality='image',
    teacher_modality='text',
    distiller=_base_.fdkd_image_from_text)
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
