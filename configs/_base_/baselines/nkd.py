# NKD (Yang et al., ICCV 2023, "From Knowledge Distillation to
# Self-Knowledge Distillation: A Unified Approach with Normalized Loss and
# Customized Soft Labels") across modalities: fdkd.NKDLoss on the logits
# (head.fc), loss = -t_g log s_g - gamma tau^2 sum_{i!=g} q^T_i log q^S_i
# with q the normalized non-target distributions. Settings tau=1.0,
# gamma=1.5: the official ones (yzd-v/cls_KD, NKDLoss(temp=1.0, gamma=1.5)).
# The FDKD paper's Table 1 caption describes its NKD row as "only
# non-target class logits": set target_weight=0 for that reading.
# Labels: by argument (fdkd.LabelledDistiller, from fdkd.CrossModalDistill).
# Width-independent: the same on the half-width AV-digits networks.
_logits = dict(type='mmrazor.ModuleOutputs', source='head.fc')
nkd_distiller = dict(
    type='fdkd.LabelledDistiller',
    student_recorders=dict(logits=_logits),
    teacher_recorders=dict(logits=_logits),
    distill_losses=dict(
        loss_nkd=dict(
            type='fdkd.NKDLoss',
            tau=1.0,
            gamma=1.5,
            target_weight=1.0,
            loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_nkd=dict(
            student_logits=dict(from_student=True, recorder='logits'),
            teacher_logits=dict(from_student=False, recorder='logits'))))
# The method's part of a child's model (configs/_base_/av/*_kd.py holds the
# direction's part)
nkd_model = dict(distiller=nkd_distiller)
