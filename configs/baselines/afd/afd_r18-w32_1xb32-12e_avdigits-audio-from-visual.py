# AFD on AV-digits, visual teacher -> audio student: a Table 1
# cell, with the data, networks and schedule of FDKD's.
_base_ = ['../../_base_/av/avdigits_kd.py', '../../_base_/baselines/afd.py']
# half width: the block widths of configs/_base_/av/avdigits.py
model = dict(
    _base_.audio_from_visual,
    **dict(
        _base_.afd_model,
        distiller=dict(
            _base_.afd_distiller,
            distill_losses=dict(
                _base_.afd_distiller.distill_losses,
                loss_afd=dict(_base_.afd_distiller.distill_losses.loss_afd,
                              **_base_.afd_channels)))))
