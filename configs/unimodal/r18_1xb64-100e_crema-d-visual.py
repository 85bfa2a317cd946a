# Unimodal visual model on crema_d: the teacher (or the "Uni" row) for FDKD.
_base_ = ['../_base_/av/crema_d.py']
model = _base_.visual_model
train_dataloader = dict(
    dataset=dict(modalities=('visual', ), pipeline=_base_.visual_train_pipeline))
val_dataloader = dict(
    dataset=dict(modalities=('visual', ), pipeline=_base_.visual_test_pipeline))
test_dataloader = dict(
    dataset=dict(modalities=('visual', ), pipeline=_base_.visual_test_pipeline))
