# OFD on AV-digits, visual teacher -> audio student: a Table 1
# cell, with the data, networks and schedule of FDKD's.
_base_ = ['../../_base_/av/avdigits_kd.py', '../../_base_/baselines/ofd.py']
# half width: the student connectors of configs/_base_/av/avdigits.py
model = dict(
    _base_.audio_from_visual,
    **dict(
        _base_.ofd_model,
        distiller=dict(
            _base_.ofd_distiller,
            connectors=dict(
                _base_.ofd_distiller.connectors,
                **_base_.ofd_student_connectors))))
