"""tools/analysis_tools/collect_results.py on run folders the tests write
(a dumped config + done.json, as ``train_and_test`` leaves them)."""
import argparse
import csv
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config, DictAction

from fdkd_helpers import REPO_ROOT, load_script

from fdkd_plugin.utils import runs as runs_mod

collect = load_script('tools/analysis_tools/collect_results.py')


def dump(cfg, path):
    """``cfg.dump(path)`` without its yapf formatting (0.6 s a config): the
    same Python values, one assignment per key."""
    with open(path, 'w') as f:
        f.writelines(f'{k} = {v!r}\n' for k, v in cfg.to_dict().items())


# a small stand-in for configs/: the same names, tiny contents
UNI = """
model = dict(type='mmpretrain.ImageClassifier',
             data_preprocessor=dict(type='fdkd.MultiModalDataPreprocessor',
                                    modality='{modality}'),
             backbone=dict(type='mmpretrain.ResNet', depth=18))
"""
KD = """
model = dict(type='fdkd.CrossModalDistill',
             student_modality='{student}', teacher_modality='{teacher}',
             teacher_ckpt='work_dirs/{dataset}_{teacher}/selected.pth',
             distiller=dict(type='{distiller}', loss_weight=1.0))
"""
DATA = """
train_dataloader = dict(dataset=dict(type='{dtype}', data_root='data/{ds}',
                                     ann_file='train.csv'))
val_dataloader = dict(dataset=dict(type='{dtype}', data_root='data/{ds}',
                                   ann_file='{val}'))
test_dataloader = dict(dataset=dict(type='{dtype}', data_root='data/{ds}',
                                    ann_file='test.csv'))
val_cfg = dict()
val_evaluator = dict(type='mmpretrain.Accuracy')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', save_best={best}))
custom_hooks = [dict(type='fdkd.SelectedCheckpointHook')]
train_cfg = dict(max_epochs={epochs})
randomness = dict(seed=0)
"""
# AV-digits selects on its validation split; CREMA-D has none (last epoch)
SETS = {
    'avdigits':
    dict(
        dtype='fdkd.AVDigitsDataset',
        ds='avdigits',
        val='val.csv',
        best="'accuracy/top1'",
        epochs=12),
    'crema_d':
    dict(
        dtype='fdkd.CremaDDataset',
        ds='crema_d',
        val='test.csv',
        best=None,
        epochs=100),
}
DISTILLERS = {'logit': 'L', 'dkd': 'D', 'feat': 'F', 'fdkd': 'FD'}


def write_configs(root):
    for dataset, data in SETS.items():
        for student, teacher in (('audio', 'visual'), ('visual', 'audio')):
            files = {
                cell_config('uni', dataset, student):
                UNI.format(modality=student)
            }
            for method, distiller in DISTILLERS.items():
                files[cell_config(method, dataset, student)] = \
                    KD.format(student=student, teacher=teacher,
                              dataset=dataset, distiller=distiller)
            for rel, text in files.items():
                os.makedirs(osp.dirname(osp.join(root, rel)), exist_ok=True)
                with open(osp.join(root, rel), 'w') as f:
                    f.write(text + DATA.format(**data))
    return str(root)


def parse_options(opts):
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction, default={})
    return parser.parse_args(['--o', *opts]).o if opts else {}


def make_run(run_dir, config, seed, value=None, opts=(), configs=None):
    """A run folder as train_and_test leaves it: the config MMEngine dumps
    (named after the config file), then done.json when finished."""
    cfg = Config.fromfile(osp.join(configs, config))
    cfg.merge_from_dict(parse_options([f'randomness.seed={seed}', *opts]))
    os.makedirs(run_dir, exist_ok=True)
    dump(cfg, osp.join(run_dir, osp.basename(config)))
    with open(osp.join(run_dir, 'run.log'), 'w') as f:
        f.write('training...\n')
    if value is not None:
        with open(osp.join(run_dir, 'done.json'), 'w') as f:
            json.dump({'accuracy/top1': value, 'minutes': 1.0}, f)


def cell_config(method, dataset, student):
    """configs-relative path, named as the repository names its configs."""
    teacher = 'visual' if student == 'audio' else 'audio'
    folder = {
        'uni': 'unimodal',
        'fdkd': 'fdkd'
    }.get(method, f'baselines/{method}')
    tag = dataset.replace('_', '-')
    name = f'r18_1xb32-12e_{tag}-{student}' if method == 'uni' else \
        f'{method}_r18_1xb32-12e_{tag}-{student}-from-{teacher}'
    return f'{folder}/{name}.py'


def av(method, student):
    return cell_config(method, 'avdigits', student)


@pytest.fixture
def bench(tmp_path):
    """Three seeds of an AV-digits sweep in the benchmark's layout, with a
    variant, an unfinished run and a CREMA-D pair in another layout."""
    configs = write_configs(tmp_path / 'configs')
    work = tmp_path / 'work'
    values = {  # (method, student): per seed 0, 1, 2 (None: unfinished)
        ('uni', 'audio'): [80, 81, 82],
        ('uni', 'visual'): [99, 99, 99],  # above every method: not ranked
        ('logit', 'audio'): [88, 90, 92],
        ('logit', 'visual'): [70, 72, None],
        ('dkd', 'audio'): [85, 85, 85],
        ('dkd', 'visual'): [71, 71, 71],  # ties Logit's 71.00: both second
        ('fdkd', 'audio'): [93, 94, 95],
        ('fdkd', 'visual'): [75, 76, 77],
    }
    for (method, student), per_seed in values.items():
        for seed, value in enumerate(per_seed):
            base = f'avdigits_{student}' if method == 'uni' else \
                f'{method}_{student}_from_' + \
                ('visual' if student == 'audio' else 'audio')
            make_run(
                str(work / f'seed{seed}' / base),
                av(method, student),
                seed,
                value,
                configs=configs)
    # a variant (a changed distiller option), above everything: not ranked
    make_run(
        str(work / 'seed0' / 'fdkd_sum_audio_from_visual'),
        av('fdkd', 'audio'),
        0,
        99.5, ['model.distiller.loss_weight=4.0'],
        configs=configs)
    # CREMA-D in a layout that names nothing
    make_run(
        str(tmp_path / 'other' / 'r1'),
        cell_config('uni', 'crema_d', 'audio'),
        5,
        60.0,
        configs=configs)
    make_run(
        str(tmp_path / 'other' / 'r2'),
        cell_config('fdkd', 'crema_d', 'audio'),
        5,
        64.25,
        configs=configs)
    return dict(
        configs=configs,
        dirs=[str(work), str(tmp_path / 'other')],
        root=tmp_path)


def table_rows(markdown):
    lines = [ln for ln in markdown.splitlines() if ln.startswith('|')]
    return [[c.strip() for c in ln.strip('|').split('|')] for ln in lines
            if not ln.startswith('|-')]


def test_table_layout_values_and_marks(bench, capsys):
    md_path = str(bench['root'] / 'out' / 'table.md')
    table = collect.main([
        *bench['dirs'], '--configs-root', bench['configs'], '--out-md', md_path
    ])
    printed = capsys.readouterr().out
    with open(md_path) as f:
        text = f.read()
    assert text == printed
    rows = table_rows(text)
    assert rows == [
        ['Category', 'Method', 'AV-digits A', 'AV-digits V', 'CREMA-D A'],
        [
            'Uni-Modal', 'Uni (w/o KD)', '81.00 ± 1.00', '99.00 ± 0.00',
            '60.00 (n=1)'
        ],
        [
            'Logits', 'Logit', '<u>90.00 ± 2.00</u>',
            '<u>71.00 ± 1.41</u> (n=2)', '–'
        ],
        ['', 'DKD', '85.00 ± 0.00', '<u>71.00 ± 0.00</u>', '–'],
        [
            'Cross-Modal', 'Ours (FDKD)', '**94.00 ± 1.00**',
            '**76.00 ± 1.00**', '**64.25** (n=1)'
        ],
        ['Variants', 'fdkd_sum', '99.50 (n=1)', '–', '–'],
    ]
    assert [r[1] for r in table.rows
            ] == ['uni', 'logit', 'dkd', 'fdkd', 'fdkd_sum']
    assert table.seeds == [0, 1, 2, 5] and table.n_max == 3
    notes = table.notes
    assert 'Checkpoints (AV-digits, all runs): best accuracy/top1 on the ' \
        'validation split (val.csv), 12 epochs.' in notes
    assert 'Checkpoints (CREMA-D, all runs): last epoch, 100 epochs.' in notes
    assert not any('WARNING' in n for n in notes)
    assert "Variant `fdkd_sum`: Ours (FDKD) with " \
        "`model.distiller.loss_weight=4.0` (Ours (FDKD): 1.0)." in notes
    unfinished = osp.join(bench['dirs'][0], 'seed2', 'logit_visual_from_audio')
    assert ('Missing: Logit AV-digits V seed 2: no done.json (unfinished or '
            f'failed, see run.log) (`{unfinished}`).') in notes
    assert 'Missing: Logit has no runs for CREMA-D A.' in notes
    assert 'Not run: DIST, DML, NKD, Feat, PKD, OFD, AFD, C2KD.' in notes
    # the footer is in the Markdown
    assert '- Not run: DIST, DML, NKD, Feat, PKD, OFD, AFD, C2KD.' in text


def test_csv_columns(bench, tmp_path):
    out = str(tmp_path / 'table.csv')
    collect.main([
        bench['dirs'][0], '--configs-root', bench['configs'], '--out-csv', out,
        '--digits', '1'
    ])
    with open(out, newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        'category', 'method', 'key', 'avdigits_audio_mean',
        'avdigits_audio_std', 'avdigits_audio_n', 'avdigits_audio_mark',
        'avdigits_visual_mean', 'avdigits_visual_std', 'avdigits_visual_n',
        'avdigits_visual_mark'
    ]
    by_key = {r[2]: r for r in rows[1:]}
    assert list(by_key) == ['uni', 'logit', 'dkd', 'fdkd', 'fdkd_sum']
    assert by_key['logit'] == [
        'Logits', 'Logit', 'logit', '90.0000', '2.0000', '3', 'second',
        '71.0000', '1.4142', '2', 'second'
    ]
    assert by_key['fdkd'][6] == 'best' and by_key['uni'][6] == ''
    assert by_key['fdkd_sum'][3:] == ['99.5000', '', '1', '', '', '', '0', '']


def test_identified_from_config_not_folder_names(tmp_path):
    configs = write_configs(tmp_path / 'configs')
    # a folder named after Logit that holds a DKD run; one that names nothing
    make_run(
        str(tmp_path / 'w' / 'seed0' / 'logit_audio_from_visual'),
        av('dkd', 'audio'),
        7,
        50.0,
        configs=configs)
    make_run(
        str(tmp_path / 'w' / 'misc' / 'try3'),
        av('feat', 'visual'),
        4,
        40.0,
        configs=configs)
    # the same run collected twice (two trees): counted once
    make_run(
        str(tmp_path / 'copy' / 'x'),
        av('dkd', 'audio'),
        7,
        51.0,
        configs=configs)
    # crashed before MMEngine dumped its config: the folder names decide
    os.makedirs(tmp_path / 'w' / 'seed3' / 'nkd_audio_from_visual')
    with open(tmp_path / 'w' / 'seed3' / 'nkd_audio_from_visual' / 'run.log',
              'w') as f:
        f.write('Traceback ...\n')
    runs = {
        osp.relpath(r.path, tmp_path): r
        for r in collect.collect(
            [str(tmp_path / 'w'), str(tmp_path / 'copy')], configs)
    }
    assert sorted(runs) == [
        'copy/x', 'w/misc/try3', 'w/seed0/logit_audio_from_visual',
        'w/seed3/nkd_audio_from_visual'
    ]
    dkd = runs['w/seed0/logit_audio_from_visual']
    assert (dkd.method, dkd.dataset, dkd.student, dkd.teacher, dkd.seed,
            dkd.value) == ('dkd', 'avdigits', 'audio', 'visual', 7, 50.0)
    feat = runs['w/misc/try3']
    assert (feat.method, feat.student, feat.seed) == ('feat', 'visual', 4)
    nkd = runs['w/seed3/nkd_audio_from_visual']
    assert (nkd.method, nkd.dataset, nkd.seed, nkd.value) == \
        ('nkd', None, 3, None)
    table = collect.build_table(list(runs.values()))
    # NKD's data set is unknown without a config: reported, not dropped
    assert any(
        n.startswith('Unidentified run (no data set')
        and 'nkd_audio_from_visual' in n for n in table.notes)
    cell = table.cells[('dkd', ('avdigits', 'audio'))]
    assert cell.values == [51.0]  # 'copy/x' sorts first and is kept
    assert any(
        n.startswith('Duplicate seed 7 for DKD AV-digits A: kept')
        for n in table.notes)


def test_runner_identity_is_used_as_written(tmp_path):
    """A run with experiment.json (written by tools/run_table.py) takes
    method, control, data set, modalities and seed from it, whatever its
    config or folder says; an unreadable one falls back to the config."""
    configs = write_configs(tmp_path / 'configs')
    # a DKD config in a folder named like Logit, said to be FDKD's control
    folder = tmp_path / 'w' / 'seed0' / 'logit_audio_from_visual'
    make_run(str(folder), av('dkd', 'audio'), 7, 50.0, configs=configs)
    runs_mod.write_identity(
        str(folder), method='fdkd', control='no_teacher_terms',
        dataset='avdigits', student='audio', teacher='visual', seed=2,
        config='configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
               'visual.py')
    broken = tmp_path / 'w' / 'seed0' / 'x'
    make_run(str(broken), av('feat', 'visual'), 4, 40.0, configs=configs)
    (broken / 'experiment.json').write_text('{"method": "fdkd"}')
    runs = {
        osp.basename(r.path): r
        for r in collect.collect([str(tmp_path / 'w')], configs)
    }
    said = runs['logit_audio_from_visual']
    assert (said.method, said.row, said.dataset, said.student, said.teacher,
            said.seed, said.value) == ('fdkd', 'fdkd+no_teacher_terms',
                                       'avdigits', 'audio', 'visual', 2,
                                       50.0)
    assert (runs['x'].method, runs['x'].seed) == ('feat', 4)


def test_missing_run_named_by_folder_when_config_absent(tmp_path):
    configs = write_configs(tmp_path / 'configs')
    folder = tmp_path / 'w' / 'avdigits' / 'seed1' / 'nkd_audio_from_visual'
    os.makedirs(folder)
    (folder / 'run.log').write_text('killed\n')
    make_run(
        str(tmp_path / 'w' / 'avdigits' / 'seed1' / 'f'),
        av('fdkd', 'audio'),
        1,
        90.0,
        configs=configs)
    table = collect.build_table(
        collect.collect([str(tmp_path / 'w')], configs))
    assert [r[1] for r in table.rows] == ['nkd', 'fdkd']
    assert table.cells[('nkd', ('avdigits', 'audio'))].mean is None
    assert any(
        n.startswith('Missing: NKD AV-digits A seed 1: no done.json')
        for n in table.notes)


def test_multi_direction_run_is_one_variant_row(tmp_path):
    """A model that trains both directions (``model.directions``, metrics
    ``{direction}/{metric}``) gives one variant row with both students."""
    configs = write_configs(tmp_path / 'configs')
    cfg = Config.fromfile(osp.join(configs, av('fdkd', 'audio')))
    model = cfg.model.to_dict()
    back = dict(model, student_modality='visual', teacher_modality='audio')
    cfg.model = dict(
        type='fdkd.BidirectionalCrossModalDistill',
        directions=dict(a_from_v=model, v_from_a=back))
    run_dir = tmp_path / 'w' / 'seed0' / 'fdkd_both'
    os.makedirs(run_dir)
    # dumped under its name from before 0.2: still read as AV-digits
    dump(cfg, str(run_dir / 'avdigits_bidirectional.py'))
    with open(run_dir / 'done.json', 'w') as f:
        json.dump(
            {
                'a_from_v/accuracy/top1': 90.0,
                'v_from_a/accuracy/top1': 70.0,
                'mean/accuracy/top1': 80.0
            }, f)
    runs = collect.collect([str(tmp_path / 'w')], configs)
    assert [(r.part, r.student, r.teacher, r.row, r.method, r.value)
            for r in runs] == [
                ('a_from_v', 'audio', 'visual', 'fdkd_both', None, 90.0),
                ('v_from_a', 'visual', 'audio', 'fdkd_both', None, 70.0),
            ]
    table = collect.build_table(runs)
    assert [r[0] for r in table.rows] == ['Variants']
    assert ('Variant `fdkd_both`: `fdkd.BidirectionalCrossModalDistill` '
            'trains a_from_v, v_from_a in one run.') in table.notes


def test_test_metrics_json_counts_only_for_selected_pth(tmp_path):
    configs = write_configs(tmp_path / 'configs')
    for name, load_from in (('a', 'w/a/selected.pth'), ('b',
                                                        'w/b/epoch_3.pth')):
        make_run(
            str(tmp_path / 'w' / name),
            av('fdkd', 'audio'),
            0,
            configs=configs,
            opts=[f'load_from={load_from}'])
        with open(tmp_path / 'w' / name / 'test_metrics.json', 'w') as f:
            json.dump({'accuracy/top1': 77.0}, f)
    runs = {
        osp.basename(r.path): r
        for r in collect.collect([str(tmp_path / 'w')], configs)
    }
    assert runs['a'].value == 77.0
    assert runs['b'].value is None and 'no done.json' in runs['b'].missing


@pytest.mark.parametrize('changes, expected, on_test', [
    ({}, 'best accuracy/top1 on the validation split (val.csv)', False),
    ({
        'default_hooks.checkpoint.save_best': None
    }, 'last epoch', False),
    ({
        'custom_hooks':
        [dict(type='fdkd.SelectedCheckpointHook', source='last')]
    }, 'last epoch', False),
    ({
        'val_dataloader.dataset.ann_file': 'test.csv'
    }, 'best accuracy/top1 on test.csv = the TEST split', True),
    ({
        'custom_hooks': []
    }, 'unknown (no SelectedCheckpointHook)', False),
])
def test_selection_rule(tmp_path, changes, expected, on_test):
    configs = write_configs(tmp_path / 'configs')
    cfg = Config.fromfile(osp.join(configs, av('uni', 'audio')))
    cfg.merge_from_dict(changes)
    assert collect.selection_rule(cfg) == (expected, on_test)


@pytest.mark.slow
def test_real_configs_method_and_variants(tmp_path):
    """Run folders as train_and_test leaves them from this repository's
    AV-digits configs (the options benchmarks/avdigits_kd.py passes), in the
    layout of work_dirs/bench_avdigits."""
    configs = osp.join(REPO_ROOT, 'configs')
    work = tmp_path / 'bench' / 'seed0'
    common = [
        'train_dataloader.dataset.data_root=data/avdigits',
        'train_cfg.max_epochs=12', 'param_scheduler.0.end=12'
    ]
    ckpt = 'model.teacher_ckpt=work/seed0/avdigits_visual/selected.pth'
    fdkd = 'fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'
    runs = [
        ('avdigits_'
         'visual', 'unimodal/r18-w32_1xb32-12e_avdigits-visual.py', [], 78.2),
        ('fdkd_audio_from_visual', fdkd, [ckpt], 94.6),
        ('feat_audio_from_visual', 'baselines/feat/feat_r18-w32_1xb32-12e_'
         'avdigits-audio-from-visual.py', [ckpt], 83.2),
        ('fdkd_sum_audio_from_visual', fdkd,
         [ckpt, 'model.distiller.reduction=sum_per_sample'], 94.2),
        ('fdkd_random_teacher_audio_from_visual', fdkd,
         ['model.teacher_ckpt=None'], 93.4),
    ]
    for name, config, opts, value in runs:
        make_run(str(work / name), config, 0, value, common + opts, configs)
    got = {osp.basename(r.path): r for r in collect.collect([str(work)])}
    assert {
        k: (r.method, r.row)
        for k, r in got.items()
    } == {
        'avdigits_visual': ('uni', 'uni'),
        'fdkd_audio_from_visual': ('fdkd', 'fdkd'),
        'feat_audio_from_visual': ('feat', 'feat'),
        'fdkd_sum_audio_from_visual': (None, 'fdkd_sum'),
        'fdkd_random_teacher_audio_from_visual': (None, 'fdkd_random_teacher'),
    }
    assert "`model.distiller.reduction='sum_per_sample'` (Ours (FDKD): " \
        "'mean')" in got['fdkd_sum_audio_from_visual'].variant_note
    assert '`model.teacher_ckpt=None`' in \
        got['fdkd_random_teacher_audio_from_visual'].variant_note
    assert got['fdkd_audio_from_visual'].selection == \
        'best accuracy/top1 on the validation split (val.csv)'


def test_controls_are_rows_next_to_their_method_and_not_ranked(tmp_path):
    """run_table's control runs (the method's config + model.control) get
    their own rows in a Controls group, with the same mean ± std, and are
    never marked best even when they score highest."""
    configs = osp.join(REPO_ROOT, 'configs')
    work = tmp_path / 'table'
    fdkd = 'fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'
    ckpt = 'model.teacher_ckpt=t/selected.pth'
    values = {
        'fdkd': ([ckpt], [90.0, 92.0]),
        'fdkd_untrained_teacher': ([ckpt, 'model.control=untrained_teacher'],
                                   [95.0, 97.0]),
        'fdkd_no_teacher_terms': ([ckpt, 'model.control=no_teacher_terms'],
                                  [89.0, 89.0]),
    }
    for name, (opts, per_seed) in values.items():
        for seed, value in enumerate(per_seed):
            make_run(str(work / f'seed{seed}' / f'{name}_audio_from_visual'),
                     fdkd, seed, value, opts, configs)
    runs = collect.collect([str(work)])
    assert sorted({(osp.basename(r.path), r.method, r.row) for r in runs}) \
        == [('fdkd_audio_from_visual', 'fdkd', 'fdkd'),
            ('fdkd_no_teacher_terms_audio_from_visual', 'fdkd',
             'fdkd+no_teacher_terms'),
            ('fdkd_untrained_teacher_audio_from_visual', 'fdkd',
             'fdkd+untrained_teacher')]
    table = collect.build_table(runs)
    assert [(c, k) for c, k, _ in table.rows] == [
        ('Cross-Modal', 'fdkd'), ('Controls', 'fdkd+untrained_teacher'),
        ('Controls', 'fdkd+no_teacher_terms')]
    markdown = collect.to_markdown(table)
    rows = {r[1]: r[2] for r in table_rows(markdown)[1:]}
    assert rows == {
        'Ours (FDKD)': '**91.00 ± 1.41**',
        'Ours (FDKD), untrained teacher': '96.00 ± 1.41',
        'Ours (FDKD), no teacher terms': '89.00 ± 0.00',
    }
    assert 'A gain over Uni that a control keeps does not come from the ' \
        'teacher' in markdown


def test_auto_feature_runs_match_the_runs_that_pinned_it():
    """The FDKD configs leave the feature to 'auto'. A run made before (or
    with the recorders written out) records the same feature: the same
    method. A run that recorded another layer is not."""
    cfg = Config.fromfile(osp.join(
        REPO_ROOT,
        'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'))
    auto = cfg.model.to_dict()
    assert auto['distiller']['feature'] == 'auto'
    pinned = dict(auto, distiller={
        k: v for k, v in auto['distiller'].items() if k != 'feature'})
    for side in ('student', 'teacher'):
        pinned['distiller'][f'{side}_recorders'] = dict(feat=dict(
            type='mmrazor.ModuleInputs', source='backbone.layer4.1.relu'))
        pinned['distiller'][f'{side}_feat'] = dict(
            recorder='feat', record_idx=1, data_idx=0)
    pinned['distiller']['in_channels'] = 256
    assert collect.model_signature(auto) == collect.model_signature(pinned)
    other = dict(pinned, distiller=dict(
        pinned['distiller'],
        student_feat=dict(recorder='feat', record_idx=0, data_idx=0)))
    assert collect.model_signature(other) != collect.model_signature(auto)
    # both directions at once: each direction resolved
    both = dict(type='fdkd.BidirectionalCrossModalDistill',
                directions=dict(a_from_v=auto))
    assert collect.model_signature(both)['directions']['a_from_v'][
        'distiller'] == collect.model_signature(pinned)['distiller']


def test_runs_set_aside_as_stale_are_not_collected(tmp_path):
    """train_and_test renames a run whose config changed to
    <dir>.stale-<k>: the table must not count it next to its rerun."""
    for name in ('fdkd_audio_from_visual', 'fdkd_audio_from_visual.stale-1',
                 'fdkd_audio_from_visual.stale-12', 'dist.stale-one'):
        run = tmp_path / 'seed0' / name
        (run / '20261208_010203').mkdir(parents=True)
        (run / 'cfg.py').write_text('x = 1\n')
    found = collect.find_run_dirs([str(tmp_path)])
    assert [osp.basename(p) for p in found] == [
        'dist.stale-one', 'fdkd_audio_from_visual'
    ]


def test_runs_of_several_code_versions_are_flagged(tmp_path):
    """Each run's fingerprint records the commit that made it; a table
    mixing commits says so (the same seed and config gave other numbers
    under the code of another day)."""
    configs = osp.join(REPO_ROOT, 'configs')
    fdkd = 'fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'
    work = tmp_path / 'table'
    dirs = []
    for seed in range(3):
        run = str(work / f'seed{seed}' / 'fdkd_audio_from_visual')
        make_run(run, fdkd, seed, 90.0 + seed,
                 ['model.teacher_ckpt=t/selected.pth'], configs)
        dirs.append(run)

    def note():
        table = collect.build_table(collect.collect([str(work)]))
        return [n for n in table.notes if 'versions of the code' in n]

    assert note() == []  # none recorded: nothing to compare
    versions = ['a' * 40, 'a' * 40, 'b' * 40 + '+']
    for run, version in zip(dirs, versions):
        with open(osp.join(run, runs_mod.FINGERPRINT_FILE), 'w') as f:
            json.dump(dict(sha256='x', code=version), f)
    assert note() == [
        'WARNING: these runs come from 2 versions of the code (2 by '
        'aaaaaaaaaaaa, 1 by bbbbbbbbbbbb+); a seed and config can give '
        'other numbers under other code.'
    ]
    with open(osp.join(dirs[2], runs_mod.FINGERPRINT_FILE), 'w') as f:
        json.dump(dict(sha256='x', code='a' * 40), f)
    assert note() == []
