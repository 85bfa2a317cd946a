# ResNet-18 classifiers for the two audio-visual modalities (paper A.3):
# mmpretrain's ImageClassifier, each fed one modality of the paired batch by
# fdkd.MultiModalDataPreprocessor. The audio network sees a 1-channel log
# spectrogram (1, F, T); the visual one RGB frames (3, H, W), or (k, 3, H, W)
# through fdkd.MultiFrameBackbone when a clip has k > 1 frames.
# Data configs override num_classes in both.
audio_model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='fdkd.MultiModalDataPreprocessor', modality='audio'),
    backbone=dict(
        type='mmpretrain.ResNet', depth=18, in_channels=1, out_indices=(3, )),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=2,
        in_channels=512,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
)
visual_model = dict(
    type='mmpretrain.ImageClassifier',
    # uint8 RGB frames -> (x - mean) / std with ImageNet's statistics
    # (0-255 scale), on the batch; a distiller takes this norm_cfg over
    data_preprocessor=dict(
        type='fdkd.MultiModalDataPreprocessor',
        modality='visual',
        norm_cfg=dict(
            visual=dict(
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375]))),
    backbone=dict(
        type='mmpretrain.ResNet', depth=18, in_channels=3, out_indices=(3, )),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=2,
        in_channels=512,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
)
