"""The ten-line config of docs/new_modality_pair.md, read from the page:
it builds, chooses the documented features and trains one step."""
import os.path as osp
import re

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from fdkd_helpers import REPO_ROOT
from fdkd_plugin.registry import DATASETS, MODELS

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
    cfg.train_dataloader.dataset.data_root = tiny_avdigits
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(cfg.model)
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    d = model.distiller
    assert d.student_recorders.recorders['feat'].source == \
        'backbone.layer4.1.relu'
    assert d.teacher_recorders.recorders['feat'].source == 'backbone'
    assert d.in_channels == 192  # DeiT-tiny's class token
    assert tuple(d.student_connector.func.weight.shape) == (192, 512)
    pre = model.data_preprocessor
    assert set(pre.norm_cfg) == {'visual'}  # the spectrogram as it is
    data = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in range(4)]), True)
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01)
    model.train()
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    optimizer.step()
