# Unimodal depth DeepLabV3+ (ResNet-18, 1-channel log-depth input) on
# NYU-Depth V2: the "Uni" depth row of the paper's Table 2 (30.9 mIoU) and
# the teacher of
# configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-rgb-from-depth.py. Also
# the config that tests a distilled depth student once extract_student.py
# has made it a plain checkpoint.
#   tools/dist_train.sh \
#     configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-depth.py 4
_base_ = [
    '../_base_/datasets/nyu_depth_v2.py',
    '../_base_/models/deeplabv3plus_r18.py',
    '../_base_/schedules/sgd_poly_50e_nyu.py'
]
model = _base_.depth_model
train_dataloader = dict(dataset=dict(pipeline=_base_.depth_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.depth_test_pipeline))
test_dataloader = val_dataloader
