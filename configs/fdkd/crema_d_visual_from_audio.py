# FDKD on CREMA-D, audio teacher -> visual student (the teacher
# is trained with configs/unimodal/crema_d_audio.py).
_base_ = ['../_base_/av/crema_d_kd.py']
model = dict(_base_.visual_from_audio, distiller=_base_.fdkd_distiller)
