# Runtime shared by every fdkd config.
custom_imports = dict(imports=['fdkd_plugin'], allow_failed_imports=False)
# unscoped type names resolve in fdkd first, then in MMEngine's root registry;
# host parts are always named with their scope ('mmpretrain.ResNet')
default_scope = 'fdkd'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # model selection on the validation split, never on test
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best='accuracy/top1',
        rule='greater',
        # tmp file + fsync + rename: a kill during a save never leaves a
        # half-written checkpoint under its name (engine/checkpoint_io.py)
        backend_args=dict(backend='fdkd.AtomicLocalBackend')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# work_dir/selected.pth -> the checkpoint a distillation config loads
# stop at the first NaN / inf loss, before a checkpoint of it is saved
custom_hooks = [
    dict(type='fdkd.SelectedCheckpointHook'),
    dict(type='fdkd.NonFiniteLossHook'),
    # data against model (classes, labels, modalities, batch of 1 at BN)
    dict(type='fdkd.DataModelCheckHook'),
    # a teacher cache that serves a whole epoch: the loader stops loading
    # the teacher's input (does nothing without a teacher_cache)
    dict(type='fdkd.TeacherInputSkipHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# Scalars (loss, loss_low, loss_high, lr, val metrics) go to
# <work_dir>/<timestamp>/vis_data/scalars.json. For TensorBoard run
# tools/train.py with --tensorboard (or uncomment the entry; needs
# `pip install 'fdkd[optional]'`), then `tensorboard --logdir work_dirs`.
# Weights & Biases: uncomment the second entry (pip install wandb).
vis_backends = [
    dict(type='LocalVisBackend'),
    # dict(type='TensorboardVisBackend'),
    # dict(type='WandbVisBackend', init_kwargs=dict(project='fdkd')),
]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
