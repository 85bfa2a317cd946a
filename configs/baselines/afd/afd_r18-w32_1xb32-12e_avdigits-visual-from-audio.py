# AFD on AV-digits, audio teacher -> visual student: a Table 1
# cell, with the data, networks and schedule of FDKD's.
_base_ = ['../../_base_/av/avdigits_kd.py', '../../_base_/baselines/afd.py']
# half width: the block widths of configs/_base_/av/avdigits.py
model = dict(
    _base_.visual_from_audio,
    **dict(
        _base_.afd_model,
        distiller=dict(
            _base_.afd_distiller,
            distill_losses=dict(
                _base_.afd_distiller.distill_losses,
                loss_afd=dict(_base_.afd_distiller.distill_losses.loss_afd,
                              **_base_.afd_channels)))))
