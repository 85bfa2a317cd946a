# Unimodal MobileNetV2 on the CrisisMMD images: the image teacher for
# fdkd_mbv2_bert-base_1xb64-20e_crisismmd-text-from-image.py, and the "Uni"
# row of the visual column. Paper A.4: SGD momentum 0.9, lr 1e-2, poly 0.9,
# 100 epochs.
_base_ = [
    '../_base_/datasets/crisismmd.py', '../_base_/schedules/sgd_poly_100e.py',
    '../_base_/default_runtime.py'
]
model = _base_.image_model
train_dataloader = dict(dataset=dict(pipeline=_base_.image_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.image_test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.image_test_pipeline))
