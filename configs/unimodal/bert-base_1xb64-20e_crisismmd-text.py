# Unimodal BERT-base on the CrisisMMD tweets: the text teacher for
# fdkd_bert-base_mbv2_1xb64-100e_crisismmd-image-from-text.py, and the "Uni"
# row of the text column. Paper A.4: Adam, fixed lr 1e-5, 20 epochs.
_base_ = ['../_base_/datasets/crisismmd.py', '../_base_/default_runtime.py']
model = _base_.text_model
train_dataloader = dict(dataset=dict(pipeline=_base_.text_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.text_test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_base_.text_test_pipeline))
optim_wrapper = _base_.bert_optim_wrapper
param_scheduler = _base_.bert_param_scheduler
train_cfg = _base_.bert_train_cfg
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64, enable=False)
