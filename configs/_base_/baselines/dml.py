# DML (Zhang et al., CVPR 2018, "Deep Mutual Learning") across modalities:
# both networks train, each with its cross-entropy plus the KL towards the
# other's detached prediction: fdkd.DMLLoss on the logits (head.fc),
# loss = KL(sg p_T || p_S) + KL(sg p_S || p_T), tau=1 (the paper's).
# The child config MUST set teacher_trainable=True in fdkd.CrossModalDistill
# (the teacher's cross-entropy is then logged as teacher.loss); DMLLoss
# raises in training otherwise. The children start both networks from
# scratch (teacher_ckpt=None), as the paper does (mutual learning of two
# untrained cohorts). An earlier comment here also blamed a NaN within 3
# steps on a trained teacher at lr 0.05; that was measured while MMRazor's
# teacher_norm_eval froze the teacher's BatchNorm, which CrossModalDistill
# no longer does for a trainable teacher, and is not the reason.
# Width-independent: the same on the half-width AV-digits networks.
_logits = dict(type='mmrazor.ModuleOutputs', source='head.fc')
dml_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=dict(logits=_logits),
    teacher_recorders=dict(logits=_logits),
    distill_losses=dict(
        loss_dml=dict(type='fdkd.DMLLoss', tau=1.0, loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_dml=dict(
            student_logits=dict(from_student=True, recorder='logits'),
            teacher_logits=dict(from_student=False, recorder='logits'))))
# The method's part of a child's model (configs/_base_/av/*_kd.py holds the
# direction's part): DML starts both networks from scratch and they learn
# from each other (Zhang et al., CVPR 2018), so no teacher checkpoint and a
# trainable teacher
dml_model = dict(
    distiller=dml_distiller, teacher_ckpt=None, teacher_trainable=True)
