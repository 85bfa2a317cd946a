# Everything crema_d configs share: data, ResNet-18 for both modalities (paper
# A.3), the FDKD distiller, the paper's schedule (A.4), runtime.
_base_ = [
    '../datasets/crema_d.py', '../models/resnet18_av.py',
    '../models/fdkd_resnet18.py', '../schedules/sgd_poly_100e.py',
    '../default_runtime.py'
]
audio_model = dict(head=dict(num_classes=6))
visual_model = dict(head=dict(num_classes=6))
fdkd_distiller = dict(num_classes=6)
# CREMA-D has no validation split: select the last epoch, never on test
default_hooks = dict(checkpoint=dict(save_best=None))
