# FDKD on NYU-Depth V2: a depth teacher (trained with
# configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-depth.py) distills into an
# RGB student (paper Table 2: Uni 34.1 -> FDKD 36.9 mIoU). Distiller as in
# configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb.py.
#   tools/dist_train.sh \
#     configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-rgb-from-depth.py 4
_base_ = [
    '../_base_/datasets/nyu_depth_v2.py',
    '../_base_/models/deeplabv3plus_r18.py',
    '../_base_/schedules/sgd_poly_50e_nyu.py'
]
model = dict(
    type='fdkd.CrossModalDistill',
    architecture=_base_.rgb_model,
    teacher=_base_.depth_model,
    teacher_ckpt='work_dirs/r18-deeplabv3plus_4xb4-50e_nyu-depth/selected.pth',
    student_modality='rgb',
    teacher_modality='depth',
    distiller=_base_.fdkd_seg_distiller)
val_cfg = _base_.cross_modal_val_cfg
test_cfg = _base_.cross_modal_test_cfg
