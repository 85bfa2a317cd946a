# AFD (Ji, Heo, Park, AAAI 2021, "Show, Attend and Distill: Knowledge
# Distillation via Attention-based Feature Matching") across modalities, as
# its official code runs it (clovaai/attention-feature-distillation,
# main.py, utils.py, distill/AFD.py, models/resnet_im.py):
# - layers: every block output of both ResNet-18s, post-ReLU
#   (LAYER['resnet18im'] = blocks 1..8; mmpretrain's BasicBlock ends with
#   its ReLU, so ModuleOutputs of backbone.layerS.J is that map). Every
#   teacher block attends over all student blocks (query from the teacher,
#   key from the student, qk_dim=128, --qk_dim);
# - loss: fdkd.AFDLoss, the MSE between normalized channel-pooled spatial
#   maps, weighted 200 (--beta). The official code pools the student maps
#   to each teacher map's size; here both sides go to one 8x8 grid, because
#   audio and visual maps have unrelated sizes;
# - plus Hinton KD on the logits, 0.9 x KL at temperature 4 (--alpha,
#   --temperature; DistillKL is the batch mean times T^2, as
#   mmrazor.KLDivergence). An earlier version left this term out: AV-digits
#   A <- V seed 0 then gave 63-65 % against Uni's 80 % (docs/results.md).
# Widths: the paper's full-width ResNet-18 (64, 64, 128, 128, 256, 256,
# 512, 512); the half-width AV-digits networks take afd_channels from
# configs/_base_/av/avdigits.py.
_blocks = {
    f'block{2 * (s - 1) + j + 1}':
    dict(type='mmrazor.ModuleOutputs', source=f'backbone.layer{s}.{j}')
    for s in (1, 2, 3, 4) for j in (0, 1)
}
_logits = dict(type='mmrazor.ModuleOutputs', source='head.fc')
afd_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=dict(_blocks, logits=_logits),
    teacher_recorders=dict(_blocks, logits=_logits),
    distill_losses=dict(
        loss_afd=dict(
            type='fdkd.AFDLoss',
            student_channels=[64, 64, 128, 128, 256, 256, 512, 512],
            teacher_channels=[64, 64, 128, 128, 256, 256, 512, 512],
            qk_dim=128,
            spatial_size=8,
            loss_weight=200.0),
        loss_kl=dict(type='mmrazor.KLDivergence', tau=4, loss_weight=0.9)),
    loss_forward_mappings=dict(
        loss_afd={
            f'{side}_feat_{k}':
            dict(from_student=side == 'student', recorder=f'block{k}')
            for side in ('student', 'teacher')
            for k in range(1, 9)
        },
        loss_kl=dict(
            preds_S=dict(from_student=True, recorder='logits'),
            preds_T=dict(from_student=False, recorder='logits'))))
# The method's part of a child's model (configs/_base_/av/*_kd.py holds the
# direction's part)
afd_model = dict(distiller=afd_distiller)

# Two ablations that separate the corrections of 2026-12-07 (the KD term,
# every block instead of the 4 stage outputs; configs/baselines/afd/
# afd-stages_* and afd-nokd_*, not Table 1 cells), each one change from
# afd_distiller:
# - the 4 stage outputs (backbone.layer1..4), the KD term kept;
_stages = {
    f'layer{k}':
    dict(type='mmrazor.ModuleOutputs', source=f'backbone.layer{k}')
    for k in (1, 2, 3, 4)
}
afd_stages_distiller = dict(
    afd_distiller,
    student_recorders=dict(_stages, logits=_logits),
    teacher_recorders=dict(_stages, logits=_logits),
    distill_losses=dict(
        afd_distiller['distill_losses'],
        loss_afd=dict(
            afd_distiller['distill_losses']['loss_afd'],
            student_channels=[64, 128, 256, 512],
            teacher_channels=[64, 128, 256, 512])),
    loss_forward_mappings=dict(
        afd_distiller['loss_forward_mappings'],
        loss_afd={
            f'{side}_feat_{k}':
            dict(from_student=side == 'student', recorder=f'layer{k}')
            for side in ('student', 'teacher')
            for k in (1, 2, 3, 4)
        }))
# - every block, without the KD term on the logits.
afd_nokd_distiller = dict(
    afd_distiller,
    student_recorders=_blocks,
    teacher_recorders=_blocks,
    distill_losses=dict(
        loss_afd=afd_distiller['distill_losses']['loss_afd']),
    loss_forward_mappings=dict(
        loss_afd=afd_distiller['loss_forward_mappings']['loss_afd']))
