# C2KD on AV-digits, visual teacher -> audio student: a Table 1
# cell, with the data, networks and schedule of FDKD's.
_base_ = ['../../_base_/av/avdigits_kd.py', '../../_base_/baselines/c2kd.py']
# half width: configs/_base_/av/avdigits.py
model = dict(
    _base_.audio_from_visual,
    **dict(
        _base_.c2kd_model,
        distiller=dict(
            _base_.c2kd_distiller,
            distill_losses=dict(
                loss_c2kd=dict(
                    _base_.c2kd_distiller.distill_losses.loss_c2kd,
                    **_base_.c2kd_channels)))))
