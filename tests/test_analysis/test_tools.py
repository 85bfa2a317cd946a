"""tools/analysis_tools/*.py end to end on tiny AV-digits models: each
writes a PNG and its numbers, and the numbers are the right ones."""
import csv
import json
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch

from fdkd_plugin.analysis import (build_paired_loader, extract_features,
                                  load_config, load_networks)
from fdkd_plugin.registry import MODELS

from fdkd_helpers import REPO_ROOT, load_script, tiny_cfg_options

UNI_AUDIO = osp.join(REPO_ROOT, 'configs/unimodal/r18-w32_1xb32-12e_avdigits-'
                                'audio.py')
UNI_VISUAL = osp.join(REPO_ROOT, 'configs/unimodal/r18-w32_1xb32-12e_avdigits-'
                                 'visual.py')
FDKD = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                           'audio-from-visual.py')


def tool(name):
    return load_script(f'tools/analysis_tools/{name}.py')


def options(data_root):
    opts = tiny_cfg_options(data_root)
    return [f'{k}={v}' for k, v in opts.items()]


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def outputs(out_dir, name, *exts):
    paths = [osp.join(out_dir, f'{name}.{ext}') for ext in exts]
    for path in paths:
        assert osp.getsize(path) > 0, path
    with open(paths[0], 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    return paths


@pytest.fixture(scope='module')
def ckpts(tiny_avdigits, tmp_path_factory):
    """Freshly initialized tiny checkpoints: the two unimodal networks and
    a distillation model holding both."""
    root = tmp_path_factory.mktemp('ckpts')
    paths = {}
    for seed, (key, config) in enumerate(
        (('audio', UNI_AUDIO), ('visual', UNI_VISUAL), ('fdkd', FDKD))):
        torch.manual_seed(seed)
        model_cfg = load_config(config).model
        model_cfg.pop('teacher_ckpt', None)  # the teacher is random too
        model = MODELS.build(model_cfg)
        paths[key] = str(root / f'{key}.pth')
        torch.save({'state_dict': model.state_dict()}, paths[key])
    return paths


def split_labels(data_root, split='test'):
    with open(osp.join(data_root, f'{split}.csv')) as f:
        return [int(line.strip().split(',')[1]) for line in f if line.strip()]


def test_every_tool_has_help(capsys):
    for name in ('feature_cka', 'feature_stats', 'loss_gradient', 'tsne',
                 'sensitivity'):
        with pytest.raises(SystemExit) as exc:
            tool(name).main(['--help'])
        assert exc.value.code == 0
        assert 'usage:' in capsys.readouterr().out


@pytest.mark.slow
def test_feature_cka(tiny_avdigits, ckpts, tmp_path):
    cka = tool('feature_cka')
    out = str(tmp_path)
    res = cka.main([
        UNI_AUDIO, ckpts['audio'], UNI_VISUAL, ckpts['visual'], '--out-dir',
        out, '--layer', 'inputs:backbone.layer4.1.relu#1', 'backbone.layer3',
        '--permutations', '3', '--no-progress', '--cfg-options',
        *options(tiny_avdigits)
    ])
    _, json_path = outputs(out, 'feature_cka', 'png', 'json')
    with open(json_path) as f:
        assert json.load(f) == json.loads(json.dumps(res))
    assert [n['modality'] for n in res['networks']] == ['audio', 'visual']
    assert list(res['layers']) == [
        'inputs:backbone.layer4.1.relu#1', 'backbone.layer3'
    ]
    last = res['layers']['inputs:backbone.layer4.1.relu#1']
    assert last['num_samples'] == 20 and last['dims'] == [256, 256]
    assert res['layers']['backbone.layer3']['dims'] == [128, 128]
    for band in ('raw', 'low', 'high'):
        assert 0 < last['cka'][band] < 1
        assert 0 < last['chance'][band] < 1
    assert sorted(last['order'].split(' > ')) == ['high', 'low', 'raw']

    # one network against itself scores 1 in every band
    res = cka.main([
        UNI_AUDIO, ckpts['audio'], UNI_AUDIO, ckpts['audio'], '--out-dir', out,
        '--name', 'self', '--permutations', '0', '--no-progress',
        '--cfg-options', *options(tiny_avdigits)
    ])
    outputs(out, 'self', 'png', 'json')
    assert [n['name'] for n in res['networks']] == [
        'r18-w32_1xb32-12e_avdigits-audio_A',
        'r18-w32_1xb32-12e_avdigits-audio_B']
    scores = res['layers']['inputs:backbone.layer4.1.relu#1']['cka']
    assert scores == pytest.approx(dict(raw=1, low=1, high=1), abs=1e-9)

    # --layer auto: each network's own FDKD feature, here the same layer
    auto = cka.main([
        UNI_AUDIO, ckpts['audio'], UNI_VISUAL, ckpts['visual'], '--out-dir',
        out, '--name', 'auto', '--layer', 'auto', '--permutations', '0',
        '--no-progress', '--cfg-options', *options(tiny_avdigits)
    ])
    assert auto['layers']['auto']['cka'] == pytest.approx(last['cka'])

    # the per-sample cosine (the public FDKD notebook's metric), DC kept
    res = cka.main([
        UNI_AUDIO, ckpts['audio'], UNI_VISUAL, ckpts['visual'], '--out-dir',
        out, '--name', 'cos', '--metric', 'cosine', '--keep-dc',
        '--permutations', '2', '--no-progress', '--cfg-options',
        *options(tiny_avdigits)
    ])
    outputs(out, 'cos', 'png', 'json')
    layer = res['layers']['inputs:backbone.layer4.1.relu#1']
    assert res['metric'] == 'cosine' and res['keep_dc'] is True
    assert 'cka' not in layer and set(layer['cosine']) == {'raw', 'low',
                                                           'high'}
    assert all(-1 <= v <= 1 for v in layer['cosine'].values())



def test_pair_arguments_are_checked(capsys):
    with pytest.raises(SystemExit):
        tool('feature_cka').main([UNI_AUDIO, 'a.pth', UNI_VISUAL])
    assert 'CONFIG CHECKPOINT [CONFIG CHECKPOINT]' in capsys.readouterr().err


@pytest.mark.slow
def test_feature_stats(tiny_avdigits, ckpts, tmp_path):
    stats_tool = tool('feature_stats')
    out = str(tmp_path)
    res = stats_tool.main([
        UNI_AUDIO, ckpts['audio'], UNI_VISUAL, ckpts['visual'], '--out-dir',
        out, '--per-class', '--no-progress', '--cfg-options',
        *options(tiny_avdigits)
    ])
    outputs(out, 'feature_stats', 'png', 'json')
    audio = res['stats']['r18-w32_1xb32-12e_avdigits-audio']
    visual = res['stats']['r18-w32_1xb32-12e_avdigits-visual']
    # the raw numbers are those of the recorded features
    (net, ), cfg = load_networks(UNI_AUDIO, ckpts['audio'],
                                 tiny_cfg_options(tiny_avdigits))
    loader, _ = build_paired_loader(cfg, ['audio'], 'test')
    feat, labels = extract_features(net.model, loader, progress=False)
    assert audio['raw']['mean'] == pytest.approx(feat.double().mean().item())
    assert audio['raw']['std'] == pytest.approx(
        feat.double().std(unbiased=False).item())
    # the overall mean is the count-weighted mean of the class means
    per = audio['raw']['per_class']
    assert sum(v['count'] for v in per.values()) == 20
    assert sum(v['count'] * v['mean'] for v in per.values()) / 20 == \
        pytest.approx(audio['raw']['mean'])
    assert per['3']['count'] == int((labels == 3).sum())
    # DC filtered: the bands are zero-mean; the gap is audio - visual
    for band in ('low', 'high'):
        assert audio[band]['mean'] == pytest.approx(0, abs=1e-6)
        assert 0 < audio[band]['std'] < audio['raw']['std'] + 1e-6
    assert res['gap']['raw']['std'] == pytest.approx(audio['raw']['std'] -
                                                     visual['raw']['std'])


def test_feature_stats_keep_dc_moves_the_mean_into_low():
    stats_tool = tool('feature_stats')
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(30, 16, generator=gen) + 2.0
    labels = torch.arange(30) % 3
    filtered = stats_tool.network_stats(x, labels, 0.5, False)
    kept = stats_tool.network_stats(x, labels, 0.5, True)
    assert filtered['low']['mean'] == pytest.approx(0, abs=1e-6)
    assert kept['low']['mean'] == pytest.approx(filtered['raw']['mean'])
    assert (kept['high']['mean'], kept['high']['std']) == pytest.approx(
        (filtered['high']['mean'], filtered['high']['std']))
    assert kept['low']['per_class']['2']['mean'] == pytest.approx(
        x[labels == 2].double().mean().item())


def test_loss_gradient(tmp_path):
    lg = tool('loss_gradient')
    out = str(tmp_path)
    summary = lg.main([
        '--out-dir', out, '--range', '-6', '6', '--num', '241', '--no-progress'
    ])
    _, csv_path, _ = outputs(out, 'loss_gradient', 'png', 'csv', 'json')
    rows = read_csv(csv_path)
    assert len(rows) == 241
    d = np.array([float(r['difference']) for r in rows])
    col = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    # Eq. 4: d^2 and 2 d; Eq. 5 with teacher 0: log(1 + |d|)^2 and
    # 2 log(1 + |d|) / (1 + |d|) sign(d)
    np.testing.assert_allclose(col['mse_loss'], d**2, atol=1e-12)
    np.testing.assert_allclose(col['mse_grad'], 2 * d, atol=1e-12)
    np.testing.assert_allclose(col['logmse_loss'], np.log1p(abs(d))**2)
    np.testing.assert_allclose(
        col['logmse_grad'],
        2 * np.log1p(abs(d)) / (1 + abs(d)) * np.sign(d),
        atol=1e-12)
    # the LogMSE gradient is bounded by 2 / e, reached at |d| = e - 1
    assert summary['logmse']['max_abs_grad'] == pytest.approx(
        2 / math.e, abs=1e-4)
    assert abs(summary['logmse']['at_difference']) == pytest.approx(
        math.e - 1, abs=0.05)
    assert summary['mse']['max_abs_grad'] == pytest.approx(12)

    # LogMSE depends on the teacher value, MSE does not
    lg.main([
        '--out-dir', out, '--name', 't2', '--teacher-value', '2', '--range',
        '-6', '6', '--num', '241', '--no-progress'
    ])
    rows2 = read_csv(osp.join(out, 't2.csv'))
    sig = np.sign(2 + d) * np.log1p(abs(2 + d))
    np.testing.assert_allclose([float(r['logmse_loss']) for r in rows2],
                               (sig - np.log1p(2))**2)
    assert [r['mse_loss'] for r in rows2] == [r['mse_loss'] for r in rows]


@pytest.mark.slow
def test_tsne_of_a_distillation_checkpoint(tiny_avdigits, ckpts, tmp_path):
    out = str(tmp_path)
    res = tool('tsne').main([
        FDKD, ckpts['fdkd'], '--classes', '0', '1', '2', '--out-dir', out,
        '--no-progress', '--cfg-options', *options(tiny_avdigits)
    ])
    _, csv_path, _ = outputs(out, 'tsne', 'png', 'csv', 'json')
    rows = read_csv(csv_path)
    # the same samples from both networks, only the chosen classes
    n = res['points_per_network']
    chosen = [c for c in split_labels(tiny_avdigits) if c in (0, 1, 2)]
    assert n == len(chosen) and len(rows) == 2 * n
    assert {(r['network'], r['modality'])
            for r in rows} == {('teacher', 'visual'), ('student', 'audio')}
    classes = [int(r['class']) for r in rows]
    assert set(classes) <= {0, 1, 2} and set(classes) == set(res['classes'])
    assert classes[:n] == classes[n:] == chosen
    assert all(math.isfinite(float(r['x'])) for r in rows)
    assert res['perplexity'] == pytest.approx(min(30, (2 * n - 1) / 3))
    for space in ('silhouette_features', 'silhouette_embedding'):
        assert -1 <= res[space]['network'] <= 1
        assert -1 <= res[space]['class'] <= 1


def fake_train_and_test(calls):
    """Stands in for runs.train_and_test: records the call and writes the
    done.json a real run leaves, with accuracy 80 + 2 lambda_1 - lambda_2."""

    def fake(config, work_dir, cfg_options=(), fresh=False, quiet=False):
        opts = dict(o.split('=', 1) for o in cfg_options)
        low = float(opts['model.distiller.lambda_low'])
        high = float(opts['model.distiller.lambda_high'])
        calls.append((config, work_dir, list(cfg_options), fresh))
        metrics = {'accuracy/top1': 80 + 2 * low - high, 'minutes': 0.1}
        os.makedirs(work_dir, exist_ok=True)
        with open(osp.join(work_dir, 'done.json'), 'w') as f:
            json.dump(metrics, f)
        return metrics

    return fake


def test_sensitivity_grid_and_collect_only(tmp_path, monkeypatch):
    from fdkd_plugin.utils import runs
    calls = []
    monkeypatch.setattr(runs, 'train_and_test', fake_train_and_test(calls))
    sens = tool('sensitivity')
    work = str(tmp_path / 'grid')
    out = str(tmp_path / 'out')
    common = ['--work-dir', work, '--out-dir', out, '--no-progress']
    res = sens.main([
        'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
        'visual.py', '--lambda-low', '0.5',
        '3', '--lambda-high', '1', '5', '--data-root', 'data/tiny', '--epochs',
        '2', '--teacher-ckpt', 't.pth', *common
    ])
    _, csv_path, _ = outputs(out, 'sensitivity', 'png', 'csv', 'json')
    assert len(calls) == 4
    config, work_dir, opts, fresh = calls[0]
    assert config == ('configs/fdkd/fdkd_r18-w32_1xb32-12e_'
                      'avdigits-audio-from-visual.py')
    assert work_dir == osp.join(work, 'low0.5_high1') and not fresh
    for opt in ('model.distiller.lambda_low=0.5',
                'model.distiller.lambda_high=1.0', 'train_cfg.max_epochs=2',
                'test_dataloader.dataset.data_root=data/tiny',
                'model.teacher_ckpt=t.pth'):
        assert opt in opts, opts
    rows = read_csv(csv_path)
    assert [(float(r['lambda_low']), float(r['lambda_high']),
             float(r['accuracy/top1'])) for r in rows] == [(0.5, 1, 80),
                                                           (0.5, 5, 76),
                                                           (3, 1, 85),
                                                           (3, 5, 81)]
    assert (res['best']['lambda_low'], res['best']['lambda_high']) == (3, 1)

    # --collect-only trains nothing and plots what has finished
    os.remove(osp.join(work, 'low3_high5', 'done.json'))
    res = sens.main([
        'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
        'visual.py', '--lambda-low', '0.5',
        '3', '--lambda-high', '1', '5', '--collect-only', '--name', 'c',
        *common
    ])
    assert len(calls) == 4
    assert res['missing'] == [osp.join(work, 'low3_high5')]
    assert len(read_csv(osp.join(out, 'c.csv'))) == 3
    outputs(out, 'c', 'png', 'json')
    # without data root or epochs no data / schedule options are passed
    sens.main([
        'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
        'visual.py', '--lambda-low', '1',
        '--lambda-high', '1', '--fresh', '--name', 'one', *common
    ])
    assert calls[-1][2] == [
        'model.distiller.lambda_low=1.0', 'model.distiller.lambda_high=1.0'
    ]
    assert calls[-1][3] is True
    with pytest.raises(SystemExit, match='no finished runs'):
        sens.main([
            'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
            'visual.py', '--lambda-low', '7',
            '--collect-only', *common
        ])
