# CREMA-D (Cao et al. 2014): 6 emotions, 6698 train / 744 test clips.
# Layout as the field's readers expect (see fdkd.CremaDDataset): train.csv /
# test.csv, AudioWAV/<clip>.wav, Image-01-FPS/<clip>/*.jpg (1 fps frames from
# tools/dataset_converters/crema_d.py). CREMA-D has no validation split: a
# held-out part of train.csv is the field's practice; set val ann_file to it.
dataset_type = 'fdkd.CremaDDataset'
data_root = 'data/crema_d'
num_classes = 6

# paper A.2: spectrogram 257 x 299 = 3 s at 16 kHz, window 512, overlap 353
# (hop 159), no centring; log(|S| + 1e-7)
audio_train = [
    dict(type='fdkd.LoadAudio', sample_rate=16000, duration=3.0),
    dict(type='fdkd.Spectrogram', n_fft=512, hop_length=159, center=False),
]
audio_test = audio_train
# paper A.2: 1 frame; random crop + flip in training, the middle frame at test
visual_train = [
    dict(type='fdkd.LoadFrames', num_frames=1),
    dict(type='fdkd.MultiModalRandomResizedCrop', scale=224),
    dict(type='fdkd.MultiModalRandomFlip', prob=0.5),
]
visual_test = [
    dict(type='fdkd.LoadFrames', num_frames=1, test_mode=True),
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
        ann_file='train.csv',
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
        ann_file='test.csv',
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
        ann_file='test.csv',
        test_mode=True,
        modalities=modalities,
        pipeline=test_pipeline))
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, ))
test_evaluator = val_evaluator
