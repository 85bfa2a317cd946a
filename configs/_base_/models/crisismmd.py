# CrisisMMD networks (paper A.3): BERT-base for the tweets, MobileNetV2 for
# the images; the FDKD distiller for both directions; the optimizer of the
# BERT student (A.4). configs/_base_/datasets/crisismmd.py builds on this file
# (its tokenizer reads `text_encoder`), and every crisismmd config builds on
# that one.

# The text encoder: a Hugging Face hub name or a local folder holding
# config.json, the weights and the tokenizer files. Both the TextClassifier
# and the pipelines' fdkd.TokenizeText load it from here: change this line
# to use a local copy offline (docs/crisismmd.md). `text_channels` is its
# hidden_size (768 for BERT-base; 384 for all-MiniLM-L6-v2, say).
text_encoder = 'bert-base-uncased'
text_channels = 768
# MobileNetV2 (widen 1.0): width of the last 1x1 conv (conv2)
image_channels = 1280
# ImageNet weights for MobileNetV2, e.g. mmpretrain's
# 'https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/'
# 'mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth' or a local copy of
# it; None trains from scratch (nothing is downloaded by default).
image_pretrained = None
num_classes = 5

text_model = dict(
    type='fdkd.TextClassifier',
    pretrained=text_encoder,
    # the [CLS] hidden state: a fine-tuned BERT classifier's feature,
    # before the pooler's tanh (paper A.3 distills pre-activation features)
    pool='cls',
    data_preprocessor=dict(
        type='fdkd.MultiModalDataPreprocessor', modality='text'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=num_classes,
        in_channels=text_channels,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
)
image_model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='fdkd.MultiModalDataPreprocessor', modality='image'),
    backbone=dict(
        type='mmpretrain.MobileNetV2',
        widen_factor=1.0,
        out_indices=(7, ),  # conv2: (N, 1280, H/32, W/32)
        init_cfg=None if image_pretrained is None else dict(
            type='Pretrained', checkpoint=image_pretrained,
            prefix='backbone')),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=num_classes,
        in_channels=image_channels,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
)

# FDKD features. Text: the pooled feature, the output of TextClassifier's
# identity `neck` (N, 768). Image: the input of the final ReLU6 of
# MobileNetV2 (backbone.conv2.activate), i.e. before the activation (paper
# A.3), (N, 1280, h, w), average-pooled by the distiller (pool=True) to
# (N, 1280). (MMRazor's algorithms switch the ReLU6 to inplace=False, so
# the record is the pre-activation value.)
_text_recorders = dict(
    feat=dict(type='mmrazor.ModuleOutputs', source='neck'))
_image_recorders = dict(
    feat=dict(type='mmrazor.ModuleInputs', source='backbone.conv2.activate'))
_text_feat = dict(recorder='feat')
_image_feat = dict(recorder='feat', data_idx=0)
_fdkd = dict(
    type='fdkd.FreqDecoupledDistiller',
    num_classes=num_classes,
    pool=True,
    cutoff=0.5,
    keep_dc=False,
    freq=True, align=True, scale=True, log=True, use_low=True, use_high=True,
    task_heads=True,
    lambda_low=1.0,
    lambda_high=1.0,
    reduction='mean',
)


def _to_width(student_width, teacher_width):
    # a learned linear map of the student feature to the teacher's width;
    # the split, the feature losses and the shared heads then act on one
    # width, the teacher's (the teacher is frozen and keeps its features)
    return dict(
        type='mmrazor.TorchNNConnector',
        module_name='Linear',
        module_args=dict(
            in_features=student_width, out_features=teacher_width))


# text student (768) <- image teacher (1280)
fdkd_text_from_image = dict(
    **_fdkd,
    in_channels=image_channels,
    student_recorders=_text_recorders,
    teacher_recorders=_image_recorders,
    student_feat=_text_feat,
    teacher_feat=_image_feat,
    student_connector=_to_width(text_channels, image_channels))
# image student (1280) <- text teacher (768)
fdkd_image_from_text = dict(
    **_fdkd,
    in_channels=text_channels,
    student_recorders=_image_recorders,
    teacher_recorders=_text_recorders,
    student_feat=_image_feat,
    teacher_feat=_text_feat,
    student_connector=_to_width(image_channels, text_channels))
cross_modal_val_cfg = dict(type='fdkd.CrossModalValLoop')
cross_modal_test_cfg = dict(type='fdkd.CrossModalTestLoop')

# Paper A.4 for BERT: Adam, a fixed lr of 1e-5, 20 epochs (batch 64, set by
# the data config). Weight decay is not stated: none. The distiller's
# connector and heads start from random weights; at 1e-5 Adam moves a
# weight by ~1e-5 per step, too slow for a fresh layer in ~2k steps, so they
# take lr 1e-3 (our choice, not the paper's). No-op for a unimodal model.
bert_epochs = 20
bert_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-5, weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'distiller': dict(lr_mult=100.0)}))
bert_param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0,
         end=bert_epochs)
]
bert_train_cfg = dict(by_epoch=True, max_epochs=bert_epochs, val_interval=1)
