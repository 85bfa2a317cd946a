# Everything AV-digits configs share: data, the two ResNet-18 networks, the
# FDKD distiller, a short schedule for a 2-core CPU, runtime.
_base_ = [
    '../datasets/avdigits.py', '../models/resnet18_av.py',
    '../models/fdkd_resnet18.py', '../default_runtime.py'
]
# ResNet-18 at half width (base/stem channels 32, 256-d feature) keeps the
# whole demo under 10 minutes on 2 CPU cores; the real-data configs use the
# paper's full width.
_width = 32
_resnet = dict(base_channels=_width, stem_channels=_width)
audio_model = dict(
    backbone=_resnet,
    head=dict(num_classes=10, in_channels=_width * 8))
visual_model = dict(
    backbone=_resnet,
    head=dict(num_classes=10, in_channels=_width * 8))
fdkd_distiller = dict(num_classes=10)

# short schedule: the paper's optimizer and poly decay, fewer epochs; no
# weight decay, as the field's code (see schedules/sgd_poly_100e.py)
max_epochs = 12
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=1e-4, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64, enable=False)
default_hooks = dict(logger=dict(interval=10))

# Half-width parts of the baseline distillers (configs/_base_/baselines/).
# mmengine refuses a key that two sibling bases define, so they are not
# named `*_distiller`: the AV-digits children of configs/baselines/ merge
# them in by name.
# OFD: the student connectors of the four stages, 1x1 conv + BN (32 .. 256
# channels), then pooling
ofd_student_connectors = {
    f'loss_ofd{k}_sfeat': [
        dict(
            type='mmrazor.ConvModuleConnector',
            in_channel=_width * 2**(k - 1),
            out_channel=_width * 2**(k - 1),
            norm_cfg=dict(type='BN'),
            act_cfg=None),
        dict(
            type='mmrazor.TorchFunctionalConnector',
            function_name='adaptive_avg_pool2d',
            func_args=dict(output_size=1))
    ]
    for k in (1, 2, 3, 4)
}
# AFD: the eight block widths (layer1.0 .. layer4.1) of both networks, merged
# into loss_afd: dict(_base_.afd_distiller.distill_losses.loss_afd,
# **afd_channels)
_afd_widths = [_width * m for m in (1, 1, 2, 2, 4, 4, 8, 8)]
afd_channels = dict(student_channels=_afd_widths, teacher_channels=_afd_widths)
# C2KD: the proxies' input width (layer3, 128), merged into loss_c2kd the
# same way
c2kd_channels = dict(student_channels=_width * 4, teacher_channels=_width * 4)
