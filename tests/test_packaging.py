"""The files an OpenMMLab user looks for first agree with the package:
the license the metadata names, the citation's version and paper id, and the
model index (every config, its result and where the number comes from)."""
import csv
import glob
import os.path as osp
import re

import pytest
import yaml

from fdkd_helpers import REPO_ROOT, load_script
from fdkd_plugin.version import __version__


def _read(name):
    with open(osp.join(REPO_ROOT, name)) as f:
        return f.read()


def test_license_file_is_the_license_the_metadata_names():
    assert 'license = "Apache-2.0"' in _read('pyproject.toml')
    text = _read('LICENSE')
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'END OF TERMS AND CONDITIONS' in text


def test_citation_matches_the_package_and_the_readme():
    cff = yaml.safe_load(_read('CITATION.cff'))
    assert cff['version'] == __version__
    assert cff['license'] == 'Apache-2.0'
    arxiv = cff['preferred-citation']['identifiers'][0]['value']
    assert arxiv == 'arXiv:2511.19887'
    readme = _read('README.md')
    assert re.search(r'eprint\s*=\s*\{2511\.19887\}', readme)
    assert 'arXiv:2511.19887' in readme
    # the model index names the same paper
    fdkd = yaml.safe_load(_read('configs/fdkd/metafile.yml'))
    paper = fdkd['Collections'][0]['Paper']
    assert paper['Title'] == cff['preferred-citation']['title']
    assert paper['URL'].endswith(arxiv.split(':')[1])


def _model_index():
    """Every model entry of every metafile model-index.yml imports."""
    index = yaml.safe_load(_read('model-index.yml'))
    models = []
    for metafile in index['Import']:
        meta = yaml.safe_load(_read(metafile))
        for model in meta['Models']:
            models.append((metafile, model))
    return models


def test_model_index_is_up_to_date():
    make = load_script('tools/misc/make_model_index.py')
    assert make.main(['--check']) == 0


def test_every_config_has_one_model_index_entry_and_every_entry_exists():
    named = [m['Config'] for _, m in _model_index()]
    assert len(named) == len(set(named))
    missing = [c for c in named if not osp.isfile(osp.join(REPO_ROOT, c))]
    assert not missing
    configs = {
        osp.relpath(p, REPO_ROOT)
        for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                           recursive=True) if '_base_' not in p
    }
    assert configs == set(named)
    # each metafile sits in its configs' folder, with its README
    for metafile, model in _model_index():
        assert osp.dirname(model['Config']) == osp.dirname(metafile)
        assert osp.isfile(osp.join(REPO_ROOT, osp.dirname(metafile),
                                   'README.md'))


def test_model_index_results_and_their_sources():
    models = {m['Config']: m for _, m in _model_index()}
    fdkd_a = models['configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
                    'visual.py']
    (result, ) = fdkd_a['Results']
    assert result['Source'].startswith('measured here')
    metrics = result['Metrics']
    with open(osp.join(REPO_ROOT, 'docs/results_avdigits_table1.csv')) as f:
        row = next(r for r in csv.DictReader(f) if r['key'] == 'fdkd')
    assert metrics['Top 1 Accuracy'] == round(
        float(row['avdigits_audio_mean']), 2)
    assert metrics['Seeds'] == int(row['avdigits_audio_n']) >= 1
    # the control sits next to the claim, from the collector's control row
    with open(osp.join(REPO_ROOT, 'docs/results_avdigits_table1.csv')) as f:
        control = next(r for r in csv.DictReader(f)
                       if r['key'] == 'fdkd+untrained_teacher')
    assert metrics['Top 1 Accuracy, untrained teacher (control)'] == round(
        float(control['avdigits_audio_mean']), 2)
    assert fdkd_a['Metadata']['Command'].startswith('make table')
    # real data sets: the paper's numbers, said to be the paper's
    crema_v = models['configs/fdkd/fdkd_r18_1xb64-100e_crema-d-visual-from-'
                     'audio.py']
    assert crema_v['Results'][0]['Metrics'] == {'Top 1 Accuracy': 71.0}
    assert 'paper' in crema_v['Results'][0]['Source']
    dkd_vgg = models['configs/baselines/dkd/dkd_r18-3f_r18_1xb64-100e_'
                     'vggsound-audio-from-visual.py']
    assert dkd_vgg['Results'][0]['Metrics'] == {'Top 1 Accuracy': 64.4}
    seg = models['configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-'
                 'rgb.py']['Results'][0]
    assert seg['Task'] == 'Semantic Segmentation'
    assert seg['Metrics'] == {'mIoU': 33.2}
    # a variant the tables do not measure has no number
    assert models['configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                  'bidirectional.py']['Results'] == []

