# DIST (Huang et al., NeurIPS 2022, "Knowledge Distillation from A Stronger
# Teacher") across modalities: MMRazor's DISTLoss on the two networks'
# logits, i.e. tau^2 * (1 - Pearson r) between the softened class
# distributions, once per sample (inter-class relation) and once per class
# over the batch (intra-class relation). Settings and their sources:
# - the official loss (hunto/image_classification_sota,
#   lib/models/losses/dist_kd.py): plain softmax, i.e. tau 1, and
#   beta = gamma = 1 for the inter and intra terms;
# - loss weight 2: MMRazor's published ImageNet ResNet-34 -> ResNet-18
#   config (configs/distill/mmcls/dist), which also uses tau 1 and
#   weights 1 / 1 (we found no official classification training script
#   with a loss weight: hunto/DIST_KD ships the segmentation code only).
# - the student's lr, weight decay and schedule are the data set's, as for
#   every method of the table.
dist_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=dict(
        logits=dict(type='mmrazor.ModuleOutputs', source='head.fc')),
    teacher_recorders=dict(
        logits=dict(type='mmrazor.ModuleOutputs', source='head.fc')),
    distill_losses=dict(
        loss_dist=dict(
            type='mmrazor.DISTLoss',
            inter_loss_weight=1.0,
            intra_loss_weight=1.0,
            tau=1.0,
            loss_weight=2.0)),
    loss_forward_mappings=dict(
        loss_dist=dict(
            logits_S=dict(from_student=True, recorder='logits'),
            logits_T=dict(from_student=False, recorder='logits'))))
# The method's part of a child's model (configs/_base_/av/*_kd.py holds the
# direction's part)
dist_model = dict(distiller=dist_distiller)
