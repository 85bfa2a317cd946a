# C2KD (Huo et al., CVPR 2024, "C2KD: Bridging the Modality Gap for
# Cross-Modal Knowledge Distillation"): fdkd.C2KDLoss puts a proxy head on
# the output of each network's layer3 (256 channels at full width), trains
# each network's logits (head.fc) and its proxy against each other with
# bidirectional KL, and exchanges non-target KL between the two proxies on
# the samples whose Kendall rank correlation exceeds 0. Settings are the
# official code's (huofushuo/C2KD main_overlap_tag.py / utils/helper.py):
# temperature 1, every KL weight 1, --krc 0.0, the target logit zeroed.
# The child config MUST set teacher_trainable=True in fdkd.CrossModalDistill
# (C2KD trains the teacher jointly; its cross-entropy is logged as
# teacher.loss); C2KDLoss raises in training otherwise.
# The official code loads the trained teacher and fine-tunes it with the
# student's SGD at lr 1e-2. Our schedules run the student at 5x that (0.05
# on AV-digits), at which the C2KD loss sent the trained AV-digits audio
# teacher to NaN within 5 steps (V <- A): the KL between its sharp logits
# and its freshly initialized proxy head makes a first gradient norm of ~60.
# At 1/5 of the lr one seed in three still diverged. The children therefore
# give the teacher 1/5 of the lr (c2kd_paramwise_cfg; the official 1e-2 on
# AV-digits) and clip the gradient norm at 10 (c2kd_clip_grad), which binds
# in the first epoch only; the proxy heads and the student train at the
# full lr.
# Labels: the inputs of the student head's loss module (data_idx=1).
# Widths / classes: full-width ResNet-18; num_classes is a placeholder that
# the dataset's child config must set (the half-width AV-digits values are
# c2kd_channels in configs/_base_/av/avdigits.py).
_layer3 = dict(type='mmrazor.ModuleOutputs', source='backbone.layer3')
_logits = dict(type='mmrazor.ModuleOutputs', source='head.fc')
c2kd_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=dict(
        feat=_layer3,
        logits=_logits,
        gt_label=dict(type='mmrazor.ModuleInputs', source='head.loss_module')),
    teacher_recorders=dict(feat=_layer3, logits=_logits),
    distill_losses=dict(
        loss_c2kd=dict(
            type='fdkd.C2KDLoss',
            student_channels=256,
            teacher_channels=256,
            num_classes=2,
            tau=1.0,
            krc_threshold=0.0,
            bid_weight=1.0,
            ofsd_weight=1.0,
            non_target='zero',
            loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_c2kd=dict(
            student_feat=dict(from_student=True, recorder='feat'),
            teacher_feat=dict(from_student=False, recorder='feat'),
            student_logits=dict(from_student=True, recorder='logits'),
            teacher_logits=dict(from_student=False, recorder='logits'),
            gt_label=dict(from_student=True, recorder='gt_label',
                          data_idx=1))))
c2kd_paramwise_cfg = dict(custom_keys={'teacher.': dict(lr_mult=0.2)})
c2kd_clip_grad = dict(max_norm=10.0)
