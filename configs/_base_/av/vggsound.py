# Everything vggsound configs share: data, ResNet-18 for both modalities (paper
# A.3), the FDKD distiller, the paper's schedule (A.4), runtime.
_base_ = [
    '../datasets/vggsound.py', '../models/resnet18_av.py',
    '../models/fdkd_resnet18.py', '../schedules/sgd_poly_100e.py',
    '../default_runtime.py'
]
audio_model = dict(head=dict(num_classes=50))
fdkd_distiller = dict(num_classes=50)
# no validation split ships: select the last epoch, never on test
default_hooks = dict(checkpoint=dict(save_best=None))
# 3 frames per clip: ResNet-18 on each frame, averaged (fdkd.MultiFrameBackbone);
# its layers are then under backbone.backbone.*, and a recorder there holds
# one row per frame, (N*k, ...): the distillers average them per clip with
# frame_mean (fdkd.FrameMean), whose k is the pipeline's (one number, set in
# configs/_base_/datasets/vggsound.py).
num_frames = [
    t for t in _base_.visual_train if t['type'] == 'fdkd.LoadFrames'
][0]['num_frames']
frame_mean = dict(type='fdkd.FrameMean', num_frames=num_frames)
visual_model = dict(
    head=dict(num_classes=50),
    backbone=dict(
        _delete_=True,
        type='fdkd.MultiFrameBackbone',
        backbone=dict(
            type='mmpretrain.ResNet',
            depth=18,
            in_channels=3,
            out_indices=(3, ))))
