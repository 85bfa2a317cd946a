# FDKD on VGGSound, visual teacher -> audio student (the teacher
# is trained with configs/unimodal/r18-3f_1xb64-100e_vggsound-visual.py).
_base_ = ['../_base_/av/vggsound_kd.py']
model = dict(_base_.audio_from_visual, distiller=_base_.fdkd_distiller)
