# DKD (Zhao et al., CVPR 2022, "Decoupled Knowledge Distillation") across
# modalities: fdkd.DKDLoss on the student's and the teacher's logits
# (head.fc), loss = tau^2 (alpha TCKD + beta NCKD), averaged over the batch.
# Settings alpha=1, beta=0.5, tau=1, no warm-up: the official ImageNet
# ResNet-34 -> ResNet-18 setting (megvii-research/mdistiller,
# configs/imagenet/r34_r18/dkd.yaml: BETA 0.5, T 1, ALPHA at its default 1,
# WARMUP 1 epoch, which with epochs counted from 1 is full weight from the
# start; CE_WEIGHT 1), as MMRazor's config (configs/distill/mmcls/dkd),
# whose reduction='mean' its DKDLoss silently turns into a sum over the
# batch; fdkd.DKDLoss honours 'batchmean'.
# The DKD paper's CIFAR-100 setting (beta=8, tau=4, i.e. NCKD weighted 128)
# drove the AV-digits audio student to 55.2 % (Uni 80.2, seed 0); this one
# gives 89.2 % (docs/results.md).
# The labels reach DKDLoss's gt_label by argument (fdkd.LabelledDistiller,
# from fdkd.CrossModalDistill). Width-independent: the same on the
# half-width AV-digits networks.
_logits = dict(type='mmrazor.ModuleOutputs', source='head.fc')
dkd_distiller = dict(
    type='fdkd.LabelledDistiller',
    student_recorders=dict(logits=_logits),
    teacher_recorders=dict(logits=_logits),
    distill_losses=dict(
        loss_dkd=dict(
            type='fdkd.DKDLoss',
            alpha=1.0,
            beta=0.5,
            tau=1.0,
            reduction='batchmean',
            loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_dkd=dict(
            student_logits=dict(from_student=True, recorder='logits'),
            teacher_logits=dict(from_student=False, recorder='logits'))))
# The method's part of a child's model (configs/_base_/av/*_kd.py holds the
# direction's part)
dkd_model = dict(distiller=dkd_distiller)
