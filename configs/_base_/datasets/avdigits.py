# AV-digits: spoken numerals (libespeak-ng, several languages, noise) paired
# with real handwritten digits (scikit-learn), in the CREMA-D layout.
# Built by `tools/dataset_converters/make_avdigits.py` (`make data`).
dataset_type = 'fdkd.AVDigitsDataset'
data_root = 'data/avdigits'
num_classes = 10

# audio: 1 s at 22050 Hz -> log |STFT| (1, 129, 63), z-scored per clip.
# Deviation from the real-data configs (n_fft 512): a 256-sample window
# halves the cost of the audio network, which dominates the demo's time on
# a 2-core CPU; per-clip z-scoring (as DI-MML) lets a network trained from
# scratch for a few hundred steps converge.
audio_train = [
    dict(type='fdkd.LoadAudio', sample_rate=22050, duration=1.0),
    dict(type='fdkd.Spectrogram', n_fft=256, hop_length=353,
         normalize='zscore'),
]
audio_test = audio_train
# visual: one 32x32 frame of the clip's three (random in training, middle
# at test), random-resized-crop in training; no flip: a mirrored digit is
# not the same digit (prob=0 still draws, which keeps every later random
# draw, and so the published numbers, as they were when LoadFrames did the
# crop and the flip itself). Normalization: the visual network's
# data_preprocessor (configs/_base_/models/resnet18_av.py).
visual_train = [
    dict(type='fdkd.LoadFrames', num_frames=1),
    dict(type='fdkd.MultiModalRandomResizedCrop', scale=32,
         crop_scale=(0.6, 1.0)),
    dict(type='fdkd.MultiModalRandomFlip', prob=0.0),
]
visual_test = [
    dict(type='fdkd.LoadFrames', num_frames=1, test_mode=True),
    dict(type='fdkd.MultiModalResize', scale=32),
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
# batch 32 (paper: 64): twice the SGD steps in the demo's short schedule
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.csv',
        modalities=modalities,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=1,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='val.csv',
        test_mode=True,
        modalities=modalities,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=128,
    num_workers=1,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test.csv',
        test_mode=True,
        modalities=modalities,
        pipeline=test_pipeline))
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, ))
test_evaluator = val_evaluator
