# Unimodal RGB DeepLabV3+ (ResNet-18) on NYU-Depth V2: the "Uni" RGB row of
# the paper's Table 2 (34.1 mIoU) and the teacher of
# configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb.py, which
# loads its work_dirs/r18-deeplabv3plus_4xb4-50e_nyu-rgb/selected.pth.
#   tools/dist_train.sh \
#     configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-rgb.py 4
_base_ = [
    '../_base_/datasets/nyu_depth_v2.py',
    '../_base_/models/deeplabv3plus_r18.py',
    '../_base_/schedules/sgd_poly_50e_nyu.py'
]
model = _base_.rgb_model
train_dataloader = dict(dataset=dict(pipeline=_base_.rgb_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.rgb_test_pipeline))
test_dataloader = val_dataloader
