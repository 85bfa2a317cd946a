# Everything ave configs share: data, ResNet-18 for both modalities (paper
# A.3), the FDKD distiller, the paper's schedule (A.4), runtime.
_base_ = [
    '../datasets/ave.py', '../models/resnet18_av.py',
    '../models/fdkd_resnet18.py', '../schedules/sgd_poly_100e.py',
    '../default_runtime.py'
]
audio_model = dict(head=dict(num_classes=28))
visual_model = dict(head=dict(num_classes=28))
fdkd_distiller = dict(num_classes=28)

