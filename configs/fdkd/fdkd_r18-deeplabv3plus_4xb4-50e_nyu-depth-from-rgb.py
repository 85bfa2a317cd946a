# FDKD on NYU-Depth V2: an RGB teacher (trained with
# configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-rgb.py) distills into a
# depth student (paper Table 2: Uni 30.9 -> FDKD 33.2 mIoU). The distiller
# is described in configs/_base_/models/deeplabv3plus_r18.py (2-D split of
# the decoder feature, StdMSE on low, LogMSE on high, no shared heads; task
# loss = the student's own segmentation CE). Batch 4 x 4:
#   tools/dist_train.sh \
#     configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb.py 4
# Validation reports the student (mIoU) and, once, the frozen teacher on
# RGB (teacher/mIoU); both on the test images (see the data config).
_base_ = [
    '../_base_/datasets/nyu_depth_v2.py',
    '../_base_/models/deeplabv3plus_r18.py',
    '../_base_/schedules/sgd_poly_50e_nyu.py'
]
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.depth_model,
    teacher=_base_.rgb_model,
    teacher_ckpt='work_dirs/r18-deeplabv3plus_4xb4-50e_nyu-rgb/selected.pth',
    student_modality='depth',
    teacher_modality='rgb',
    distiller=_base_.fdkd_seg_distiller)
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
