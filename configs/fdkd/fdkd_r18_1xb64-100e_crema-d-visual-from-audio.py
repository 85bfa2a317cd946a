# FDKD on CREMA-D, audio teacher -> visual student (the teacher
# is trained with configs/unimodal/r18_1xb64-100e_crema-d-audio.py).
_base_ = ['../_base_/av/crema_d_kd.py']
model = dict(_base_.visual_from_audio, distiller=_base_.fdkd_distiller)
