# The paper's audio-visual schedule (A.4): SGD momentum 0.9, lr 1e-2, 'poly'
# decay with power 0.9, 100 epochs (batch 64 is set by the data config).
# Weight decay is not stated in the paper; 0 as in the field's code: the
# public FDKD reproduction (zxn0710/re-FD-CMKD-main, main_fd_cmkd.py) and
# C2KD (huofushuo/C2KD, main_overlap_tag.py) build SGD without it.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=1e-4, by_epoch=True, begin=0,
         end=100)
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# lr 0.01 is for 1 GPU x batch 64; --auto-scale-lr scales to other totals
auto_scale_lr = dict(base_batch_size=64, enable=False)
