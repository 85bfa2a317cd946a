# VGGSound, 50-class subset as in C2KD (25835 / 2500 clips).
# Layout (see fdkd.VGGSoundDataset): train_tiny.csv / test_tiny.csv rows
# `ytid,start,label,split`, audio/<ytid>_<start:06d>.wav (16 kHz),
# Image-01-FPS/<ytid>_<start:06d>.mp4/*.jpg (tools/dataset_converters/vggsound.py).
# No validation split ships: point val ann_file at a held-out csv.
dataset_type = 'fdkd.VGGSoundDataset'
data_root = 'data/vggsound'
num_classes = 50

# paper A.2: 257 x 1004 spectrogram (10 s, 16 kHz, window 512, overlap 353)
audio_train = [
    dict(type='fdkd.LoadAudio', sample_rate=16000, duration=10.0),
    dict(type='fdkd.Spectrogram', n_fft=512, hop_length=159, center=False),
]
audio_test = audio_train
# paper A.2: 3 frames sampled uniformly in training, the centres at test;
# the visual model folds them with fdkd.MultiFrameBackbone
visual_train = [
    dict(type='fdkd.LoadFrames', num_frames=3),
    dict(type='fdkd.MultiModalRandomResizedCrop', scale=224),
    dict(type='fdkd.MultiModalRandomFlip', prob=0.5),
]
visual_test = [
    dict(type='fdkd.LoadFrames', num_frames=3, test_mode=True),
    dict(type='fdkd.MultiModalResize', scale=224),
]

modalities = ('audio', 'visual')
train_pipeline = [
    *audio_train, *visual_train,
    dict(type='fdkd.PackMultiModalInputs', modalities=modalities)
]
test_pipeline = [
    *audio_test, *visual_test,
    dict(type='fdkd.PackMultiModalInputs', modalities=modalities)
]
# one-modality pipelines for the unimodal configs
audio_train_pipeline = [
    *audio_train, dict(type='fdkd.PackMultiModalInputs', modalities=('audio', ))
]
audio_test_pipeline = [
    *audio_test, dict(type='fdkd.PackMultiModalInputs', modalities=('audio', ))
]
visual_train_pipeline = [
    *visual_train,
    dict(type='fdkd.PackMultiModalInputs', modalities=('visual', ))
]
visual_test_pipeline = [
    *visual_test,
    dict(type='fdkd.PackMultiModalInputs', modalities=('visual', ))
]

# default_collate stacks each modality in the loader's worker, so two
# tensors reach the main process per batch instead of two per sample
# (MMEngine's pseudo_collate): 54 -> 9 ms a batch of 32 AV-digits clips
# with one worker on 2 cores (docs/benchmarks.md, Runner loop)
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train_tiny.csv',
        modalities=modalities,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test_tiny.csv',
        test_mode=True,
        modalities=modalities,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test_tiny.csv',
        test_mode=True,
        modalities=modalities,
        pipeline=test_pipeline))
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, ))
test_evaluator = val_evaluator
