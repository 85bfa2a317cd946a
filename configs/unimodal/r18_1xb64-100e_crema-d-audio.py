# Unimodal audio model on crema_d: the teacher (or the "Uni" row) for FDKD.
_base_ = ['../_base_/av/crema_d.py']
model = _base_.audio_model
train_dataloader = dict(
    dataset=dict(modalities=('audio', ), pipeline=_base_.audio_train_pipeline))
val_dataloader = dict(
    dataset=dict(modalities=('audio', ), pipeline=_base_.audio_test_pipeline))
test_dataloader = dict(
    dataset=dict(modalities=('audio', ), pipeline=_base_.audio_test_pipeline))
