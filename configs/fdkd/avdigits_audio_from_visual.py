# FDKD on AV-digits, visual teacher -> audio student (the teacher
# is trained with configs/unimodal/avdigits_visual.py).
_base_ = ['../_base_/av/avdigits_kd.py']
model = dict(_base_.audio_from_visual, distiller=_base_.fdkd_distiller)
