"""Feature recording (fdkd_plugin.analysis.features) and the networks and
paired loader it runs on (fdkd_plugin.analysis.loading)."""
import os.path as osp

import pytest
import torch

from fdkd_plugin.analysis import (FDKD_FEATURE, FeatureExtractor,
                                  FeatureSource, auto_source,
                                  build_paired_loader, extract_features,
                                  load_config, load_networks,
                                  packed_modalities)

from fdkd_helpers import REPO_ROOT, tiny_cfg_options

UNI_AUDIO = osp.join(REPO_ROOT, 'configs/unimodal/r18-w32_1xb32-12e_avdigits-'
                                'audio.py')
FDKD = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                           'audio-from-visual.py')


def test_feature_source_parse_and_str():
    assert FeatureSource.parse('inputs:backbone.layer4.1.relu#1') == \
        FDKD_FEATURE
    assert str(FDKD_FEATURE) == 'inputs:backbone.layer4.1.relu#1'
    assert FDKD_FEATURE.data_idx == 0  # the ReLU's only input
    src = FeatureSource.parse('backbone.layer3')
    assert (src.kind, src.record_idx, src.data_idx) == ('outputs', 0, None)
    assert src.recorder_cfg == dict(
        type='mmrazor.ModuleOutputs', source='backbone.layer3')
    with pytest.raises(ValueError, match=r"kind='input' must be one of"):
        FeatureSource.parse('input:backbone.layer3')
    with pytest.raises(ValueError, match="record index 'x'"):
        FeatureSource.parse('backbone.layer3#x')


@pytest.fixture(scope='module')
def audio_setup(tiny_avdigits):
    torch.manual_seed(0)
    opts = tiny_cfg_options(tiny_avdigits)
    (net, ), cfg = load_networks(UNI_AUDIO, None, opts)
    loader, note = build_paired_loader(cfg, [net.modality], 'test')
    return net, cfg, loader, note


def test_unimodal_network_and_its_loader(audio_setup):
    net, cfg, loader, note = audio_setup
    # a unimodal network is named after its config
    assert (net.name, net.modality) == (
        'r18-w32_1xb32-12e_avdigits-audio', 'audio')
    assert not net.model.training
    # the unimodal config's own pipeline packs audio: used as it is
    assert packed_modalities(cfg.test_dataloader.dataset.pipeline) == \
        ('audio', )
    assert 'its own pipeline' in note
    assert loader.batch_size == 8 and len(loader.dataset) == 20
    # asking for both modalities switches to the paired test_pipeline
    paired, note = build_paired_loader(cfg, ['audio', 'visual'], 'val')
    assert 'test_pipeline' in note
    batch = next(iter(paired))
    assert sorted(batch['inputs']) == ['audio', 'visual']


def test_pair_needs_a_paired_pipeline(audio_setup):
    _, cfg, _, _ = audio_setup
    cfg = cfg.copy()
    cfg.pop('test_pipeline')
    with pytest.raises(ValueError, match=r"packs \('audio',\)"):
        build_paired_loader(cfg, ['audio', 'visual'])


def test_extracts_the_pre_relu_feature_and_labels(audio_setup):
    net, _, loader, _ = audio_setup
    maps, labels = extract_features(
        net.model, loader, pool=False, progress=False)
    pooled, labels2 = extract_features(net.model, loader, progress=False)
    assert maps.shape[:2] == (20, 256) and maps.dim() == 4
    assert pooled.shape == (20, 256)
    torch.testing.assert_close(pooled, maps.mean((2, 3)))
    assert torch.equal(labels, labels2)
    expected = [loader.dataset.get_data_info(i)['gt_label'] for i in range(20)]
    assert labels.tolist() == expected
    # pre-ReLU: negative values survive (the ReLUs are made non-inplace) ...
    assert maps.min() < 0
    # ... and the network's own pooled (post-ReLU) feature is their ReLU
    neck = []
    with torch.no_grad():
        for data in loader:
            x = net.model.data_preprocessor(data)['inputs']
            neck.append(net.model.extract_feat(x)[0])
    torch.testing.assert_close(torch.cat(neck), maps.relu().mean((2, 3)))
    # the hooks are gone after extraction
    relu = dict(net.model.named_modules())['backbone.layer4.1.relu']
    assert len(relu._forward_hooks) == 0
    # 'auto' is the same feature on this ResNet-18 (FDKD's feature='auto')
    assert auto_source(net.model) == FDKD_FEATURE
    auto, _ = extract_features(net.model, loader, layer='auto',
                               progress=False)
    torch.testing.assert_close(auto, pooled)


def test_extractor_checks_modality_and_module(audio_setup):
    net, _, _, _ = audio_setup
    with pytest.raises(ValueError, match="selects 'audio'"):
        FeatureExtractor(net.model, modality='visual')
    with pytest.raises(ValueError, match="'backbone.layer9' is not in"):
        FeatureExtractor(net.model, 'backbone.layer9')


def test_distillation_model_gives_teacher_and_student(tiny_avdigits):
    opts = dict(
        tiny_cfg_options(tiny_avdigits), **{'model.teacher_ckpt': None})
    nets, cfg = load_networks(FDKD, None, opts)
    assert [(n.name, n.modality) for n in nets] == [('teacher', 'visual'),
                                                    ('student', 'audio')]
    assert nets[0].label == 'teacher (visual)'
    loader, note = build_paired_loader(
        load_config(FDKD, opts), [n.modality for n in nets], 'test')
    assert 'its own pipeline' in note
