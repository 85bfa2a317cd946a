"""fdkd.MultiModalDataPreprocessor: uint8 in, normalized float32 out, on
the batch; and the paired pre-processor a distiller composes from its two
networks' configs, so each normalization is written once."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from fdkd_helpers import REPO_ROOT
from fdkd_plugin.models import MultiModalDataPreprocessor
from fdkd_plugin.models.data_preprocessors import paired_preprocessor_cfg
from fdkd_plugin.registry import MODELS

IMAGENET = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


def _cfg(rel):
    return Config.fromfile(osp.join(REPO_ROOT, rel))


def test_uint8_frames_normalized_as_numpy_did():
    """(k, 3, H, W) uint8 clips: the channel axis is the third from last,
    and the result is numpy's float32 (x - mean) / std bit for bit."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 3, 3, 5, 4), dtype=np.uint8)
    pre = MultiModalDataPreprocessor(norm_cfg=dict(visual=IMAGENET))
    out = pre(dict(inputs=dict(visual=list(torch.from_numpy(frames)))))
    got = out['inputs']['visual']
    assert got.dtype == torch.float32 and got.shape == (2, 3, 3, 5, 4)
    mean = np.float32(IMAGENET['mean']).reshape(3, 1, 1)
    std = np.float32(IMAGENET['std']).reshape(3, 1, 1)
    want = (frames.astype(np.float32) - mean) / std
    np.testing.assert_array_equal(got.numpy(), want)
    # a float modality without an entry passes untouched; ids stay ints
    spec = torch.randn(2, 1, 4, 4)
    ids = torch.arange(6).view(2, 3)
    out = pre(dict(inputs=dict(audio=spec, text=ids)))
    assert out['inputs']['audio'] is spec
    assert out['inputs']['text'].dtype == torch.int64
    with pytest.raises(ValueError, match=r"norm_cfg\['visual'\]=.*must be "
                       r'dict\(mean'):
        MultiModalDataPreprocessor(norm_cfg=dict(visual=[0.5]))


def test_distiller_takes_both_networks_normalization_over():
    cfg = _cfg('configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
               'visual.py').model
    cfg.teacher_ckpt = None
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(copy.deepcopy(cfg))
    pre = model.data_preprocessor
    assert pre.modality is None  # the paired batch keeps both
    assert pre.norm_cfg == dict(visual=IMAGENET)
    # the student (audio) sees its spectrogram, the teacher the normalized
    # frames: the same tensors the unimodal visual model's own
    # pre-processor gives
    frames = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    data = dict(inputs=dict(audio=torch.randn(2, 1, 8, 8), visual=frames))
    paired = pre(copy.deepcopy(data))['inputs']['visual']
    alone = model.teacher.data_preprocessor(copy.deepcopy(data))['inputs']
    assert torch.equal(paired, alone)


def test_paired_cfg_rules():
    a = dict(data_preprocessor=dict(
        type='fdkd.MultiModalDataPreprocessor', modality='rgb',
        norm_cfg=dict(rgb=IMAGENET), pad_to='ori_shape',
        batch_augments=dict(augments=[])))
    b = dict(data_preprocessor=dict(
        type='fdkd.MultiModalDataPreprocessor', modality='depth',
        norm_cfg=dict(depth=dict(mean=[0.5], std=[0.5]))))
    cfg = paired_preprocessor_cfg(None, a, b)
    assert cfg == dict(
        type='fdkd.MultiModalDataPreprocessor', pad_to='ori_shape',
        norm_cfg=dict(rgb=IMAGENET, depth=dict(mean=[0.5], std=[0.5])))
    # what the distiller's own config sets wins
    mine = dict(type='fdkd.MultiModalDataPreprocessor', pad_to=None,
                norm_cfg=dict(depth=dict(mean=[0.0], std=[1.0])))
    cfg = paired_preprocessor_cfg(mine, a, b)
    assert cfg['pad_to'] is None
    assert cfg['norm_cfg']['depth'] == dict(mean=[0.0], std=[1.0])
    assert cfg['norm_cfg']['rgb'] == IMAGENET
    # two networks that disagree on one modality: the user must choose
    other = copy.deepcopy(b)
    other['data_preprocessor']['norm_cfg'] = dict(rgb=dict(mean=[0], std=[1]))
    with pytest.raises(ValueError, match="normalize modality 'rgb' "
                       'differently'):
        paired_preprocessor_cfg(None, a, other)
    # another pre-processor type is left alone
    seg = dict(type='mmseg.SegDataPreProcessor')
    assert paired_preprocessor_cfg(seg, a, b) == seg


def test_bidirectional_composes_from_its_directions():
    cfg = _cfg('configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
               'bidirectional.py').model
    for direction in cfg.directions.values():
        direction.teacher_ckpt = None
        direction.pop('teacher_cache', None)
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(copy.deepcopy(cfg))
    assert model.data_preprocessor.norm_cfg == dict(visual=IMAGENET)
    assert model.data_preprocessor.modality is None
