# The paper's segmentation schedule (A.4): SGD momentum 0.9, lr 0.02, 'poly'
# decay with power 0.9, 50 epochs, total batch 16 (4 per GPU x 4 GPUs, set
# in the data config). Weight decay 5e-4 as mmseg's DeepLabV3+ recipes.
# It carries the runtime, whose checkpoint hook it changes to select on
# mIoU.
_base_ = ['../default_runtime.py']
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=5e-4))
# epoch-based bounds, stepped every iteration (795 / 16 = 50 steps an epoch)
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=1e-4,
        by_epoch=True,
        begin=0,
        end=50,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# lr 0.02 is for a total batch of 16; --auto-scale-lr scales it to others
auto_scale_lr = dict(base_batch_size=16, enable=False)
# select on mIoU (IoUMetric); for NYU "val" is the test set, see the data
# config
default_hooks = dict(
    checkpoint=dict(save_best='mIoU', rule='greater'),
    logger=dict(interval=10))
