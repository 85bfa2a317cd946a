# AFD ablation on AV-digits (visual <- audio): the official every-block feature
# loss without the official 0.9 x KD term on the logits
# (configs/_base_/baselines/afd.py, afd_nokd_distiller). With afd-stages_*
# it separates the two corrections that took AFD from 17.5 points below
# Uni to 5.6 below (A, seed 0; docs/results.md). Not a Table 1 cell.
_base_ = ['../../_base_/av/avdigits_kd.py', '../../_base_/baselines/afd.py']
model = dict(
    _base_.visual_from_audio,
    distiller=dict(
        _base_.afd_nokd_distiller,
        distill_losses=dict(
            loss_afd=dict(_base_.afd_nokd_distiller.distill_losses.loss_afd,
                          **_base_.afd_channels))))
