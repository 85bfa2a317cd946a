# DeepLabV3+ with a ResNetV1c-18 backbone for NYU-Depth V2 (paper A.3), as
# mmseg's deeplabv3plus_r18-d8 configs: dilated ResNetV1c-18 (output stride
# 8), DepthwiseSeparableASPPHead 512 -> 128 with the 64 -> 12 low-level
# branch, FCN auxiliary head 256 -> 64 with loss weight 0.4.
# Two networks, one per modality, each fed its modality of the paired batch
# by fdkd.MultiModalDataPreprocessor, which normalizes it (norm_cfg) and
# pads every training crop smaller than the loaded image back to it
# (pad_to='ori_shape': 0 after normalization, label 255). Both predict
# NYU's 40 classes.
#
# Norm: plain BN here; `sync_bn = 'torch'` below makes MMEngine's Runner
# convert it to SyncBN in multi-process runs on GPUs. On CPU (gloo) SyncBN
# cannot run: tools/train.py then drops sync_bn with a log line
# ("sync_bn needs CUDA") and each process keeps its own BN statistics.
#
# ImageNet init: the backbone loads open-mmlab://resnet18_v1c (downloaded
# on first use). The depth network's stem takes 1 channel, so the
# checkpoint's first conv (stem.0, 3 input channels) does not fit; MMEngine
# skips it with a size-mismatch warning and that conv keeps its random init,
# while every other layer loads. Tests and offline runs set
# `...backbone.init_cfg=None`.
_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']
# What differs from mmseg's DeepLabV3+ R-50 base (its `model`):
norm_cfg = dict(type='BN', requires_grad=True)
sync_bn = 'torch'
_mmseg = _base_.model
_loss = dict(type='mmseg.CrossEntropyLoss', use_sigmoid=False)
_backbone = dict(
    _mmseg.backbone,
    type='mmseg.ResNetV1c',  # this scope is fdkd: name mmseg's modules
    depth=18,
    in_channels=3,
    norm_cfg=norm_cfg,
    init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet18_v1c'))
_decode_head = dict(
    _mmseg.decode_head,
    type='mmseg.DepthwiseSeparableASPPHead',
    in_channels=512,
    channels=128,
    c1_in_channels=64,
    c1_channels=12,
    num_classes=40,
    norm_cfg=norm_cfg,
    # not in place: the distiller records the input of the last ReLU, which
    # an in-place ReLU would overwrite (fdkd.CrossModalDistill switches every
    # module to inplace=False too, through fdkd_plugin.compat; this keeps the
    # unimodal networks right on their own)
    act_cfg=dict(type='ReLU', inplace=False),
    loss_decode=dict(_loss, loss_weight=1.0))
_auxiliary_head = dict(
    _mmseg.auxiliary_head,
    type='mmseg.FCNHead',
    in_channels=256,
    channels=64,
    num_classes=40,
    norm_cfg=norm_cfg,
    loss_decode=dict(_loss, loss_weight=0.4))

# RGB: ImageNet statistics of the pretrained backbone, 0-255 scale. Depth:
# the loader's encoding in [0, 1] (configs/_base_/datasets/nyu_depth_v2.py)
# mapped to [-1, 1].
_preprocessor = dict(
    type='fdkd.MultiModalDataPreprocessor',
    norm_cfg=dict(
        rgb=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
        depth=dict(mean=[0.5], std=[0.5])),
    pad_to='ori_shape')
rgb_model = dict(
    type='mmseg.EncoderDecoder',
    data_preprocessor=dict(_preprocessor, modality='rgb'),
    backbone=_backbone,
    decode_head=_decode_head,
    auxiliary_head=_auxiliary_head,
    train_cfg=_mmseg.train_cfg,
    test_cfg=_mmseg.test_cfg)
depth_model = dict(
    rgb_model,
    data_preprocessor=dict(_preprocessor, modality='depth'),
    backbone=dict(_backbone, in_channels=1))
# mmseg's `model` is not this base's: each child sets its own (one of the
# two above, or a distillation of both). The Runner gives a model without a
# data_preprocessor the top-level one (mmseg's SegDataPreProcessor in the
# base): here the paired one, which keeps both modalities (a distillation)
model = dict(_delete_=True)
data_preprocessor = dict(_delete_=True, type='fdkd.MultiModalDataPreprocessor')
del _mmseg, _loss
del _backbone, _decode_head, _auxiliary_head, _preprocessor  # in the models

# FDKD on segmentation maps (paper A.3): features keep their spatial layout
# (pool=False) and are split by the 2-D radial frequency split; no shared
# classifier and no low/high task heads (align=False, task_heads=False), so
# the task loss is the student's own segmentation CE (decode + 0.4 aux,
# logged as student.*), paper Fig. 3; no labels reach the distiller.
# Feature (feature='auto' traces it at build, the log prints it): the
# decoder's last feature before the classifier conv, taken before its ReLU
# (paper A.3: "before the ReLU activation"): the input of the ReLU of
# sep_bottleneck.1's pointwise conv, (N, 128, H/4, W/4), pinned by
#     student_recorders=dict(feat=dict(type='mmrazor.ModuleInputs',
#         source='decode_head.sep_bottleneck.1.pointwise_conv.activate')),
#     student_feat=dict(recorder='feat', record_idx=0, data_idx=0),
#     (the same for the teacher), in_channels=128. In eval
# mode decode_head.conv_seg sees exactly ReLU(this); recording conv_seg's
# input instead would give the post-ReLU feature, and in training also the
# head's Dropout2d(0.1) mask on the student side only. (The decode head's
# ReLUs are not in place, see act_cfg above, so the record stays pre-ReLU.)
# Loss scale: with the paper's 1/(N*D) mean, D = 128 * H/4 * W/4 (2.5M at
# 480x640) bounds each feature term by 4 / D ~ 2e-6, far below the CE;
# 'sum_per_sample' (sum over the map, mean over the batch) gives each term
# its per-sample size, at most 4 (StdMSE: 2 - 2r, r = the Pearson
# correlation of the two maps). The paper does not state a scale for maps;
# set model.distiller.reduction='mean' for the literal 1/(N*D).
fdkd_seg_distiller = dict(
    type='fdkd.FreqDecoupledDistiller',
    num_classes=40,
    feature='auto',
    pool=False,
    cutoff=0.5,
    keep_dc=False,
    freq=True, align=False, scale=True, log=True, use_low=True,
    use_high=True, task_heads=False,
    lambda_low=1.0,
    lambda_high=1.0,
    reduction='sum_per_sample',
)
cross_modal_val_cfg = dict(type='fdkd.CrossModalValLoop')
cross_modal_test_cfg = dict(type='fdkd.CrossModalTestLoop')
