"""The ten-line config of docs/new_modality_pair.md, read from the page:
it builds, chooses the documented features and trains one step."""
import os.path as osp
import re

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from fdkd_helpers import REPO_ROOT, paired_batch, sgd_steps
from fdkd_plugin.registry import MODELS

DOC = osp.join(REPO_ROOT, 'docs/new_modality_pair.md')


def ten_line_config() -> str:
    text = open(DOC, encoding='utf-8').read()
    section = text.split('## In ten lines', 1)[1].split('\n## ', 1)[0]
    (block, ) = re.findall(r'```python\n(.*?)```', section, re.S)
    return block


def test_ten_line_config_of_the_docs(tmp_path, tiny_avdigits):
    block = ten_line_config()
    assert len(block.strip().splitlines()) <= 12
    # the page's config sits in configs/<folder>/: point _base_ at the repo
    path = tmp_path / 'pair.py'
    path.write_text(block.replace("'../_base_/",
                                  f"'{REPO_ROOT}/configs/_base_/"))
    cfg = Config.fromfile(str(path))
    cfg.model.teacher_ckpt = None  # no trained teacher here
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = tiny_avdigits
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(cfg.model)
    d = model.distiller
    assert d.student_recorders.recorders['feat'].source == \
        'backbone.layer4.1.relu'
    assert d.teacher_recorders.recorders['feat'].source == 'backbone'
    assert d.in_channels == 192  # DeiT-tiny's class token
    assert tuple(d.student_connector.func.weight.shape) == (192, 512)
    pre = model.data_preprocessor
    assert set(pre.norm_cfg) == {'visual'}  # the spectrogram as it is
    (losses, ) = sgd_steps(model, paired_batch(model, dataset_cfg), steps=1)
    assert torch.isfinite(model.parse_losses(losses)[0])
