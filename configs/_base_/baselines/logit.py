# Logit KD (Hinton et al. 2015) across modalities: MMRazor's KLDivergence
# between the student's and the teacher's logits, temperature 4 (MMRazor's
# published setting for KD on ImageNet).
logit_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=dict(
        logits=dict(type='mmrazor.ModuleOutputs', source='head.fc')),
    teacher_recorders=dict(
        logits=dict(type='mmrazor.ModuleOutputs', source='head.fc')),
    distill_losses=dict(
        loss_kl=dict(type='mmrazor.KLDivergence', tau=4, loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_kl=dict(
            preds_S=dict(from_student=True, recorder='logits'),
            preds_T=dict(from_student=False, recorder='logits'))))
