# AFD (Ji, Heo, Park, AAAI 2021, "Show, Attend and Distill: Knowledge
# Distillation via Attention-based Feature Matching") across modalities:
# fdkd.AFDLoss between the outputs of the four ResNet-18 stages
# (backbone.layer1..layer4) of both networks. Every teacher stage attends
# over all student stages (query from the teacher, key from the student,
# qk_dim=128 as the official code); each pair's loss is the MSE between
# normalized channel-pooled spatial maps, pooled to a common 8x8 grid
# because audio and visual maps have unrelated sizes. Loss weight 200: the
# official --beta (clovaai/attention-feature-distillation main.py; the
# official recipe also adds 0.9 x KD at tau=4 on the logits, not here).
# Widths: the paper's full-width ResNet-18 (64, 128, 256, 512); the
# half-width AV-digits networks (32 .. 256) take afd_channels from
# configs/_base_/av/avdigits.py.
_stages = {
    f'layer{k}':
    dict(type='mmrazor.ModuleOutputs', source=f'backbone.layer{k}')
    for k in (1, 2, 3, 4)
}
afd_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=_stages,
    teacher_recorders=_stages,
    distill_losses=dict(
        loss_afd=dict(
            type='fdkd.AFDLoss',
            student_channels=[64, 128, 256, 512],
            teacher_channels=[64, 128, 256, 512],
            qk_dim=128,
            spatial_size=8,
            loss_weight=200.0)),
    loss_forward_mappings=dict(
        loss_afd={
            f'{side}_feat_{k}':
            dict(from_student=side == 'student', recorder=f'layer{k}')
            for side in ('student', 'teacher')
            for k in (1, 2, 3, 4)
        }))
