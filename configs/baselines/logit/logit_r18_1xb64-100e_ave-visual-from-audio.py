# Logit on AVE, audio teacher -> visual student: a Table 1
# cell, with the data, networks and schedule of FDKD's.
_base_ = ['../../_base_/av/ave_kd.py', '../../_base_/baselines/logit.py']
model = dict(_base_.visual_from_audio, **_base_.logit_model)
