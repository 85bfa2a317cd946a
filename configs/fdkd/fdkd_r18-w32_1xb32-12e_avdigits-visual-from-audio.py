# FDKD on AV-digits, audio teacher -> visual student (the teacher
# is trained with configs/unimodal/r18-w32_1xb32-12e_avdigits-audio.py).
_base_ = ['../_base_/av/avdigits_kd.py']
model = dict(_base_.visual_from_audio, distiller=_base_.fdkd_distiller)
