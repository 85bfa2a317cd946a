# DML on CREMA-D, visual teacher -> audio student: a Table 1
# cell, with the data, networks and schedule of FDKD's.
_base_ = ['../../_base_/av/crema_d_kd.py', '../../_base_/baselines/dml.py']
model = dict(_base_.audio_from_visual, **_base_.dml_model)
