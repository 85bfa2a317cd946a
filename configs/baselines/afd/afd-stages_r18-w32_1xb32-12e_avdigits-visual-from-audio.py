# AFD ablation on AV-digits (visual <- audio): the official KD term kept, the
# feature loss on the 4 stage outputs instead of every block
# (configs/_base_/baselines/afd.py, afd_stages_distiller). With afd-nokd_*
# it separates the two corrections that took AFD from 17.5 points below
# Uni to 5.6 below (A, seed 0; docs/results.md). Not a Table 1 cell.
_base_ = ['../../_base_/av/avdigits_kd.py', '../../_base_/baselines/afd.py']
_widths = _base_.afd_channels.student_channels[::2]  # the 4 stages, half
model = dict(
    _base_.visual_from_audio,
    distiller=dict(
        _base_.afd_stages_distiller,
        distill_losses=dict(
            _base_.afd_stages_distiller.distill_losses,
            loss_afd=dict(_base_.afd_stages_distiller.distill_losses.loss_afd,
                          student_channels=_widths,
                          teacher_channels=_widths))))
