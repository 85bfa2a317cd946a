# AFD on VGGSound, visual teacher -> audio student: a Table 1
# cell, with the data, networks and schedule of FDKD's.
_base_ = ['../../_base_/av/vggsound_kd.py', '../../_base_/baselines/afd.py']
model = dict(_base_.audio_from_visual, **_base_.afd_model)
