# C2KD on CREMA-D, audio teacher -> visual student: a Table 1
# cell, with the data, networks and schedule of FDKD's.
_base_ = ['../../_base_/av/crema_d_kd.py', '../../_base_/baselines/c2kd.py']
# the CREMA-D classes
model = dict(
    _base_.visual_from_audio,
    **dict(
        _base_.c2kd_model,
        distiller=dict(
            _base_.c2kd_distiller,
            distill_losses=dict(
                loss_c2kd=dict(
                    _base_.c2kd_distiller.distill_losses.loss_c2kd,
                    num_classes=_base_.num_classes)))))
