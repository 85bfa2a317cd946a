# OFD on AV-digits, audio teacher -> visual student: a Table 1
# cell, with the data, networks and schedule of FDKD's.
_base_ = ['../../_base_/av/avdigits_kd.py', '../../_base_/baselines/ofd.py']
# half width: the student connectors of configs/_base_/av/avdigits.py
model = dict(
    _base_.visual_from_audio,
    **dict(
        _base_.ofd_model,
        distiller=dict(
            _base_.ofd_distiller,
            connectors=dict(
                _base_.ofd_distiller.connectors,
                **_base_.ofd_student_connectors))))
