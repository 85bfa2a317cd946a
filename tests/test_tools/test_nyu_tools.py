"""NYU-Depth V2 end to end on a tiny converted set, as a user runs it:
``tools/dist_train.sh`` (2 CPU processes, gloo) distills an RGB teacher into
a depth student, ``extract_student.py`` makes the student a plain
checkpoint, and ``tools/dist_test.sh`` evaluates it with the unimodal depth
config."""
import os
import os.path as osp
import re

import pytest
import torch

from fdkd_helpers import REPO_ROOT, load_script

FDKD = 'configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb.py'
UNI_RGB = 'configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-rgb.py'
UNI_DEPTH = 'configs/unimodal/r18-deeplabv3plus_4xb4-50e_nyu-depth.py'

tools = load_script('tests/test_tools/test_train_tools.py')


def options(root: str, **extra) -> list:
    opts = {'train_cfg.max_epochs': 1, 'param_scheduler.0.end': 1,
            'default_hooks.logger.interval': 1}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.dataset.data_root'] = root
        # 2: BN of the ASPP image pool (1x1 maps) needs 2 values a channel
        opts[f'{loader}.batch_size'] = 2
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
    opts.update(extra)
    return [f'{k}={v}' for k, v in opts.items()]


def evaluate(config: str, ckpt: str, root: str) -> float:
    """mIoU of a plain checkpoint on the test list, in this process."""
    from mmengine.config import Config
    from mmengine.dataset import default_collate
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DATASETS, MODELS, DefaultScope
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    cfg.model.backbone.init_cfg = None
    cfg.test_dataloader.dataset.data_root = root
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(cfg.model).eval()
        ds = DATASETS.build(cfg.test_dataloader.dataset)
        evaluator = Evaluator(cfg.test_evaluator)
    load_checkpoint(model, ckpt, map_location='cpu')
    evaluator.dataset_meta = ds.metainfo
    for i in range(len(ds)):
        data = default_collate([ds[i]])
        with torch.no_grad():
            evaluator.process(model.test_step(data), data)
    return float(evaluator.evaluate(len(ds))['mIoU'])


@pytest.mark.slow
def test_dist_train_fdkd_extract_and_dist_test(tmp_path):
    nyu = load_script('tests/test_datasets/test_nyu_depth_v2.py')
    root = str(nyu.convert_tiny(tmp_path))
    # an RGB teacher checkpoint (random weights: the run, not its quality,
    # is under test here)
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(osp.join(REPO_ROOT, UNI_RGB))
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('fdkd'):
        teacher = MODELS.build(cfg.model)
    teacher_ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(meta=dict(), state_dict=teacher.state_dict()),
               teacher_ckpt)

    work = str(tmp_path / 'fdkd')
    out = tools.run_tool(
        [
            'bash', 'tools/dist_train.sh', FDKD, '2', '--work-dir', work,
            '--cfg-options', *options(
                root, **{
                    'model.teacher_ckpt': teacher_ckpt,
                    'model.architecture.backbone.init_cfg': None,
                    'model.teacher.backbone.init_cfg': None
                })
        ],
        env=dict(PORT=str(tools.free_port())))
    assert 'Distributed training: True' in out, out[-3000:]
    assert 'GPU number: 2' in out  # MMEngine's name for the world size
    # CPU processes: the config's SyncBN is switched off, with a log line
    assert 'sync_bn needs CUDA; training with per-process BN on CPU' in out
    # 4 train images, batch 2 per process, 2 processes: 1 iteration
    assert re.search(r'Epoch\(train\)\s+\[1\]\[1/1\]', out)
    assert re.search(r'distill\.loss_low: \d', out)
    assert re.search(r'student\.decode\.loss_ce: \d', out)
    # validation: the student on depth, the frozen teacher on RGB
    assert re.search(r'Epoch\(val\).*mIoU: [\d.]+.*teacher/mIoU: [\d.]+',
                     out), out[-3000:]
    selected = osp.join(work, 'selected.pth')
    assert os.readlink(selected) == 'best_mIoU_epoch_1.pth'

    student = str(tmp_path / 'depth_student.pth')
    load_script('tools/model_converters/extract_student.py').main(
        [selected, student])
    plain = torch.load(student, weights_only=True)['state_dict']
    assert plain['backbone.stem.0.weight'].shape[1] == 1  # depth input
    assert not any(k.startswith(('architecture.', 'teacher.'))
                   for k in plain)

    metrics_file = str(tmp_path / 'metrics.json')
    out = tools.run_tool(
        [
            'bash', 'tools/dist_test.sh', UNI_DEPTH, student, '2',
            '--work-dir', str(tmp_path / 'test'), '--out', metrics_file,
            '--cfg-options', *options(
                root, **{'model.backbone.init_cfg': None})
        ],
        env=dict(PORT=str(tools.free_port())))
    reported = re.search(r'Epoch\(test\).*mIoU: ([\d.]+)', out)
    assert reported, out[-3000:]
    # the same number as this process computes from the plain checkpoint
    expected = evaluate(UNI_DEPTH, student, root)
    assert float(reported.group(1)) == pytest.approx(expected, abs=0.005)
    import json
    with open(metrics_file) as f:
        assert json.load(f)['mIoU'] == pytest.approx(expected, abs=0.005)
