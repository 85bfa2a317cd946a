"""Config names (fdkd_plugin/config_names.py): every name says what its
config is, the registry finds each cell by it, and the names from before 0.2
still resolve, with a warning."""
import glob
import os.path as osp
import warnings

import pytest
from mmengine.config import Config

from fdkd_helpers import REPO_ROOT, load_script

from fdkd_plugin import config_names, experiments
from fdkd_plugin.config_names import ConfigName, find, parse, parse_legacy

CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                       recursive=True) if '_base_' not in p)


def _arch(net: dict) -> str:
    """The name's token for one network's config."""
    if net.get('type') == 'fdkd.TextClassifier':
        return 'bert-base' if 'bert-base' in str(net) else net['type']
    backbone = net['backbone']
    if backbone['type'] == 'fdkd.MultiFrameBackbone':
        return _arch(dict(backbone=backbone['backbone'])) + '-3f'
    if backbone['type'] == 'mmpretrain.MobileNetV2':
        assert backbone.get('widen_factor', 1.0) == 1.0
        return 'mbv2'
    assert backbone.get('depth') == 18, backbone
    if net.get('decode_head', {}).get('type') == \
            'mmseg.DepthwiseSeparableASPPHead':
        return 'r18-deeplabv3plus'
    return 'r18-w32' if backbone.get('base_channels') == 32 else 'r18'


def _archs(model: dict) -> tuple:
    if 'directions' in model:  # both directions: the student of the first
        model = next(iter(model['directions'].values()))
    if 'architecture' not in model:
        return (_arch(model), )
    student, teacher = _arch(model['architecture']), _arch(model['teacher'])
    return (student, ) if student == teacher else (teacher, student)


def test_the_configs_are_all_named_and_unique():
    assert len(CONFIGS) >= 100
    # mim finds a config by its file name alone: one per name
    names = [osp.basename(c) for c in CONFIGS]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize('config', CONFIGS)
def test_each_name_says_what_its_config_is(config):
    name = parse(config)
    cfg = Config.fromfile(osp.join(REPO_ROOT, config), lazy_import=False)
    folder = osp.dirname(config)
    assert folder == config_names.folder_of(name.method)
    assert name.dataset.replace('_', '') in \
        cfg.train_dataloader.dataset.type.lower()
    assert name.batch == cfg.train_dataloader.batch_size
    assert name.epochs == cfg.train_cfg.max_epochs
    assert name.archs == _archs(cfg.model)
    if name.teacher is not None:
        assert (name.student, name.teacher) == (
            cfg.model.student_modality, cfg.model.teacher_modality)
        # a trained teacher is where its unimodal config's run leaves it
        if cfg.model.get('teacher_ckpt'):
            teacher = experiments.unimodal_config(name.dataset, name.teacher)
            stem = osp.splitext(osp.basename(teacher))[0]
            assert cfg.model.teacher_ckpt == f'work_dirs/{stem}/selected.pth'
    elif name.method == 'uni':
        assert cfg.model.data_preprocessor.modality == name.student
    else:
        assert name.extra == 'bidirectional' and 'directions' in cfg.model
    # the registry finds the cell by its name, whatever arch and schedule
    assert find(name.method, name.dataset, name.student, name.teacher,
                name.variant, name.extra, root=REPO_ROOT) == config


@pytest.mark.parametrize('name,parsed', [
    ('configs/fdkd/fdkd_r18_1xb64-100e_crema-d-audio-from-visual.py',
     ConfigName('fdkd', '', ('r18', ), 1, 64, 100, 'crema_d', 'audio',
                'visual')),
    ('fdkd-logit_r18-w32_1xb32-12e_avdigits-visual-from-audio.py',
     ConfigName('fdkd', 'logit', ('r18-w32', ), 1, 32, 12, 'avdigits',
                'visual', 'audio')),
    ('dkd_r18-3f_r18_1xb64-100e_vggsound-audio-from-visual',
     ConfigName('dkd', '', ('r18-3f', 'r18'), 1, 64, 100, 'vggsound',
                'audio', 'visual')),
    ('fdkd_r18-w32_1xb32-12e_avdigits-bidirectional.py',
     ConfigName('fdkd', '', ('r18-w32', ), 1, 32, 12, 'avdigits', None,
                None, 'bidirectional')),
    ('r18-deeplabv3plus_4xb4-50e_nyu-rgb.py',
     ConfigName('uni', '', ('r18-deeplabv3plus', ), 4, 4, 50, 'nyu', 'rgb',
                None)),
    # a data set the registry does not know: read from the pattern alone
    ('fdkd_convnext-t_r18_8xb32-30e_kitti-depth-from-rgb.py',
     ConfigName('fdkd', '', ('convnext-t', 'r18'), 8, 32, 30, 'kitti',
                'depth', 'rgb')),
])
def test_parse(name, parsed):
    assert parse(name) == parsed


@pytest.mark.parametrize('name', [
    'configs/fdkd/avdigits_audio_from_visual.py',  # the old pattern
    'fdkd_r18_crema-d-audio-from-visual.py',  # no schedule
    'fdkd_1xb64-100e_crema-d-audio-from-visual.py',  # no arch
])
def test_a_name_out_of_the_pattern_is_refused_by_name(name):
    with pytest.raises(ValueError, match=osp.basename(name)):
        parse(name)


@pytest.mark.parametrize('path,parsed', [
    ('configs/baselines/dkd/crema_d_audio_from_visual.py',
     ('dkd', '', 'crema_d', 'audio', 'visual', '')),
    ('configs/fdkd/avdigits_visual_from_audio_logit_kd.py',
     ('fdkd', 'logit', 'avdigits', 'visual', 'audio', '')),
    ('configs/fdkd/avdigits_bidirectional.py',
     ('fdkd', '', 'avdigits', None, None, 'bidirectional')),
    ('configs/unimodal/nyu_rgb.py', ('uni', '', 'nyu', 'rgb', None, '')),
    ('configs/fdkd/crisismmd_image_from_text.py',
     ('fdkd', '', 'crisismmd', 'image', 'text', '')),
])
def test_parse_legacy(path, parsed):
    name = parse_legacy(path)
    assert (name.method, name.variant, name.dataset, name.student,
            name.teacher, name.extra) == parsed
    assert parse_legacy('configs/unimodal/kitti_rgb.py') is None


def _legacy(config: str) -> str:
    """The name ``config`` had before 0.2."""
    name = parse(config)
    if name.teacher is None:
        last = name.student or name.extra
    else:
        last = f'{name.student}_from_{name.teacher}'
        last += {'logit': '_logit_kd'}.get(name.variant, '')
    return osp.join(osp.dirname(config), f'{name.dataset}_{last}.py')


def test_every_old_name_resolves_to_its_config_with_a_warning(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    # the configs that existed before 0.2 (later variants, e.g. the AFD
    # ablations afd-stages_* / afd-nokd_*, never had an old name)
    before = [c for c in CONFIGS if parse(c).variant in ('', 'logit')]
    assert len(CONFIGS) - len(before) == 4
    old_names = {_legacy(c): c for c in before}
    assert len(old_names) == len(before)
    assert 'configs/unimodal/nyu_rgb.py' in old_names
    for old, new in old_names.items():
        assert not osp.exists(old)
        with pytest.warns(FutureWarning, match=f'{old} was renamed to {new}'):
            assert config_names.resolve(old) == new
    # an absolute path resolves to an absolute path, from any folder
    monkeypatch.chdir('/')
    old = osp.join(REPO_ROOT, 'configs/fdkd/nyu_depth_from_rgb.py')
    with pytest.warns(FutureWarning):
        new = config_names.resolve(old)
    assert new == osp.join(
        REPO_ROOT,
        'configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb.py')


def test_existing_and_unknown_paths_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert config_names.resolve(CONFIGS[0]) == CONFIGS[0]
        missing = 'configs/fdkd/avdigits_audio_from_text.py'
        assert config_names.resolve(missing) == missing
        assert config_names.resolve('elsewhere.py') == 'elsewhere.py'


def test_a_tool_takes_an_old_name(monkeypatch, capsys):
    monkeypatch.chdir(REPO_ROOT)
    tool = load_script('tools/misc/print_config.py')
    with pytest.warns(FutureWarning, match='nyu_rgb.py was renamed'):
        tool.main(['configs/unimodal/nyu_rgb.py'])
    assert "type='mmseg.EncoderDecoder'" in capsys.readouterr().out


def test_the_registry_finds_every_cell_and_says_what_is_missing():
    for dataset in ('avdigits', 'crema_d', 'ave', 'vggsound'):
        for method in experiments.METHODS:
            for direction, student, teacher in experiments.directions_of(
                    dataset):
                config = experiments.method_config(method, dataset,
                                                   direction)
                name = parse(config)
                assert (name.method, name.dataset, name.student,
                        name.teacher) == (method, dataset, student, teacher)
    with pytest.raises(FileNotFoundError,
                       match='no dml config for nyu, depth from rgb, in '
                       'configs/baselines/dml/'):
        experiments.method_config('dml', 'nyu', 'depth_from_rgb')


def test_two_configs_for_one_cell_are_refused_by_name(tmp_path):
    folder = tmp_path / 'configs' / 'fdkd'
    folder.mkdir(parents=True)
    for arch in ('r18', 'r50'):
        (folder / f'fdkd_{arch}_1xb8-1e_ave-audio-from-visual.py').touch()
    with pytest.raises(ValueError, match='2 configs fit .*r18.*r50'):
        find('fdkd', 'ave', 'audio', 'visual', root=str(tmp_path))
