# FDKD on AV-digits, visual teacher -> audio student (the teacher
# is trained with configs/unimodal/r18-w32_1xb32-12e_avdigits-visual.py).
_base_ = ['../_base_/av/avdigits_kd.py']
model = dict(_base_.audio_from_visual, distiller=_base_.fdkd_distiller)
