# NYU-Depth V2, 40-class segmentation with paired RGB and depth (paper §5.2,
# A.2). Built from the official downloads by
# `tools/dataset_converters/nyu_depth_v2.py` (docs/nyu_depth_v2.md):
# 795 train / 654 test images of 480x640.
dataset_type = 'fdkd.NYUDepthV2Dataset'
data_root = 'data/nyu_depth_v2'
num_classes = 40

# Depth input: 1 channel, log(1 + d) / log(1 + 10 m) in [0, 1]
# (fdkd.encode_depth), then (x - 0.5) / 0.5 -> [-1, 1]. Log depth puts the
# usual indoor range of 1.5-5 m at 0.38-0.75, around the centre, and
# resolves near objects more finely than metric depth ('metric': d / 10 m).
# Pre-computed 3-channel HHA images: docs/nyu_depth_v2.md
# (pipeline.0.depth_encoding='hha', the datasets' data_prefix
# depth_path='hha', backbone in_channels=3); HHA/255 is normalized with the
# same 0.5 / 0.5.
depth_encoding = 'log'
# Normalization and padding: each network's data_preprocessor
# (configs/_base_/models/deeplabv3plus_r18.py): RGB with ImageNet's
# statistics, depth (x - 0.5) / 0.5 -> [-1, 1].

# Training augmentation (the same draw for RGB, depth and label):
# - a random rescale by U(0.5, 2.0) and a crop back to the loaded size
#   (480x640; mmseg's usual scale-and-crop, cat_max_ratio 0.75), padded with
#   the mean / void on the batch where the rescaled image is smaller;
# - a horizontal flip with p = 0.5 (paper A.2);
# - random HSV on RGB only (paper A.2).
_geometric = [
    dict(type='fdkd.MultiModalRandomResize', ratio_range=(0.5, 2.0)),
    dict(type='fdkd.MultiModalRandomCrop', cat_max_ratio=0.75),
    dict(type='fdkd.MultiModalRandomFlip', prob=0.5),
]
_hsv = [dict(type='fdkd.RandomHSV')]
_labels = dict(type='mmseg.LoadAnnotations')

# paired pipelines (distillation)
_rgbd = dict(type='fdkd.LoadRGBD', modalities=('rgb', 'depth'),
             depth_encoding=depth_encoding)
train_pipeline = [
    _rgbd, _labels, *_geometric, *_hsv,
    dict(type='fdkd.PackMultiModalInputs', modalities=('rgb', 'depth'))
]
test_pipeline = [
    _rgbd, _labels,
    dict(type='fdkd.PackMultiModalInputs', modalities=('rgb', 'depth'))
]
# one-modality pipelines (unimodal configs)
_rgb = dict(type='fdkd.LoadRGBD', modalities=('rgb', ))
_depth = dict(type='fdkd.LoadRGBD', modalities=('depth', ),
              depth_encoding=depth_encoding)
rgb_train_pipeline = [
    _rgb, _labels, *_geometric, *_hsv,
    dict(type='fdkd.PackMultiModalInputs', modalities=('rgb', ))
]
rgb_test_pipeline = [
    _rgb, _labels, dict(type='fdkd.PackMultiModalInputs', modalities=('rgb', ))
]
depth_train_pipeline = [
    _depth, _labels, *_geometric,
    dict(type='fdkd.PackMultiModalInputs', modalities=('depth', ))
]
depth_test_pipeline = [
    _depth, _labels,
    dict(type='fdkd.PackMultiModalInputs', modalities=('depth', ))
]

# Batch 4 per process: `tools/dist_train.sh CONFIG 4` gives the paper's
# total batch of 16 (A.4). With another number of GPUs, set
# train_dataloader.batch_size to 16 / N, or keep 4 and pass --auto-scale-lr.
# pseudo_collate (mmseg's): training crops smaller than the loaded image
# differ in size until the data preprocessor pads them, so the loader must
# not stack them (tools/train.py's default is default_collate)
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        pipeline=train_pipeline))
# Validation = the 654 test images. NYU-Depth V2 has no validation split and
# the paper reports the test set; so save_best='mIoU' (schedule base)
# selects the checkpoint ON THE TEST SET, which makes the selected number
# optimistic. For an unbiased number report the last checkpoint
# (default_hooks.checkpoint.save_best=None: selected.pth -> last), or hold
# out part of train.txt as a val list and point val_dataloader at it.
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test.txt',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
# the building blocks above are in the pipelines now; dropping them keeps
# the dumped config short (MMEngine formats it with yapf on every run)
del _geometric, _hsv, _labels, _rgbd, _rgb, _depth
