# CrisisMMD v2.0 (Alam et al. 2018), humanitarian task, agreed labels: tweet
# text + its image, 5 classes (see fdkd.CrisisMMDDataset for the layout and
# the label merge). Paper A.2: random crop + flip for the images in training.
# The tokenizer is the text encoder's, named once in the models base.
_base_ = ['../models/crisismmd.py']
dataset_type = 'fdkd.CrisisMMDDataset'
data_root = 'data/CrisisMMD_v2.0'
_split = ('crisismmd_datasplit_agreed_label/'
          'task_humanitarian_text_img_agreed_lab_{}.tsv')

# text: normalized (mentions -> '@user', URLs -> 'http'), tokenized, padded
# to 128 tokens -> int64 (2, 128) = [input_ids; attention_mask]
text_max_length = 128
text_train = [
    dict(
        type='fdkd.TokenizeText',
        tokenizer=_base_.text_encoder,
        max_length=text_max_length,
        key='tweet_text',
        out_key='text')
]
text_test = text_train

# image: MMCV/MMPretrain transforms on the usual 'img' key, renamed to the
# 'image' modality by KeyMapper; normalized with the ImageNet statistics
# (RGB) and transposed to a float (3, 224, 224) tensor here, because
# fdkd.MultiModalDataPreprocessor only stacks.
_normalize = [
    dict(
        type='Normalize',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    dict(type='ImageToTensor', keys=['img']),
]
image_train = [
    dict(
        type='KeyMapper',
        mapping=dict(img='image'),
        allow_nonexist_keys=True,
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='mmpretrain.RandomResizedCrop', scale=224),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            *_normalize,
        ])
]
image_test = [
    dict(
        type='KeyMapper',
        mapping=dict(img='image'),
        allow_nonexist_keys=True,
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='mmpretrain.ResizeEdge', scale=256, edge='short'),
            dict(type='CenterCrop', crop_size=224),
            *_normalize,
        ])
]

_meta_keys = ('tweet_id', 'image_id', 'sample_idx')
modalities = ('text', 'image')
train_pipeline = [
    *text_train, *image_train,
    dict(
        type='fdkd.PackMultiModalInputs',
        modalities=modalities,
        meta_keys=_meta_keys)
]
test_pipeline = [
    *text_test, *image_test,
    dict(
        type='fdkd.PackMultiModalInputs',
        modalities=modalities,
        meta_keys=_meta_keys)
]
# one-modality pipelines for the unimodal configs
text_train_pipeline = [
    *text_train,
    dict(
        type='fdkd.PackMultiModalInputs',
        modalities=('text', ),
        meta_keys=_meta_keys)
]
text_test_pipeline = [
    *text_test,
    dict(
        type='fdkd.PackMultiModalInputs',
        modalities=('text', ),
        meta_keys=_meta_keys)
]
image_train_pipeline = [
    *image_train,
    dict(
        type='fdkd.PackMultiModalInputs',
        modalities=('image', ),
        meta_keys=_meta_keys)
]
image_test_pipeline = [
    *image_test,
    dict(
        type='fdkd.PackMultiModalInputs',
        modalities=('image', ),
        meta_keys=_meta_keys)
]

# default_collate stacks each modality in the loader's worker, so two
# tensors reach the main process per batch instead of two per sample
# (MMEngine's pseudo_collate): 54 -> 9 ms a batch of 32 AV-digits clips
# with one worker on 2 cores (docs/benchmarks.md, Runner loop)
# paper: batch 64
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=_split.format('train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=_split.format('dev'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=128,
    num_workers=2,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=_split.format('test'),
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, ))
test_evaluator = val_evaluator
