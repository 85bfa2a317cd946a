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
# 3 frames per clip (set in configs/_base_/datasets/vggsound.py): ResNet-18
# runs on each frame and averages its outputs per clip
# (fdkd.MultiFrameBackbone). Its layers keep their one-frame paths
# (backbone.layer4.1.relu); fdkd.CrossModalDistill averages a record made
# inside it, (N*k, ...), per clip before any connector or loss sees it.
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
