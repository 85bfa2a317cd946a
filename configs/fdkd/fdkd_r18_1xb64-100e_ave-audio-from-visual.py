# FDKD on AVE, visual teacher -> audio student (the teacher
# is trained with configs/unimodal/r18_1xb64-100e_ave-visual.py).
_base_ = ['../_base_/av/ave_kd.py']
model = dict(_base_.audio_from_visual, distiller=_base_.fdkd_distiller)
