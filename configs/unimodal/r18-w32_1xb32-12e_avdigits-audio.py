# Unimodal audio model on avdigits: the teacher (or the "Uni" row) for FDKD.
_base_ = ['../_base_/av/avdigits.py']
model = _base_.audio_model
train_dataloader = dict(
    dataset=dict(modalities=('audio', ), pipeline=_base_.audio_train_pipeline))
val_dataloader = dict(
    dataset=dict(modalities=('audio', ), pipeline=_base_.audio_test_pipeline))
test_dataloader = dict(
    dataset=dict(modalities=('audio', ), pipeline=_base_.audio_test_pipeline))
