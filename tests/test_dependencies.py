"""fdkd_plugin.dependencies: the supported ranges live in one place, the
requirement files say the same, the tested pins lie inside them, and a
version out of range fails at import with both versions named."""
import os.path as osp
import warnings

import pytest
from packaging.requirements import Requirement

from fdkd_helpers import REPO_ROOT
from fdkd_plugin import dependencies as deps


def _requirements(name):
    out = {}
    with open(osp.join(REPO_ROOT, 'requirements', name)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                req = Requirement(line)
                out[req.name] = str(req.specifier)
    return out


def _same(a, b):
    return sorted(a.split(',')) == sorted(b.split(','))


@pytest.mark.parametrize('name', ['mminstall.txt', 'runtime.txt'])
def test_requirement_files_carry_the_supported_ranges(name):
    listed = _requirements(name)
    for dist, spec in deps.REQUIRED.items():
        assert _same(listed[dist], spec), (name, dist, listed[dist], spec)
    if name == 'mminstall.txt':
        assert set(listed) == set(deps.REQUIRED)


def test_the_tested_pins_are_inside_the_ranges():
    pins = _requirements('constraints.txt')
    fake = {d: s.lstrip('=') for d, s in pins.items() if s.startswith('==')}
    assert deps.problems({**deps.REQUIRED, **deps.TESTED}, fake.get) == []


def test_this_environment_passes_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        deps.check()


def test_out_of_range_and_missing_name_both_versions():
    installed = {'mmengine': '0.10.7', 'mmcv': '2.2.0',
                 'mmpretrain': '1.2.0', 'mmsegmentation': '1.2.2'}.get
    assert deps.problems(deps.REQUIRED, installed) == [
        'mmcv 2.2.0 is installed; fdkd supports mmcv>=2.1.0,<2.2.0',
        'mmrazor is not installed; fdkd needs mmrazor>=1.0.0,<1.1.0',
    ]
    with pytest.raises(ImportError, match=r'mmcv 2\.2\.0 is installed.*'
                       r'requirements/constraints\.txt'):
        deps.check(installed)


def test_an_untested_torch_warns_and_does_not_fail():
    good = {d: s.split(',')[0].lstrip('>=') for d, s in
            {**deps.REQUIRED, **deps.TESTED}.items()}
    with pytest.warns(UserWarning, match=r'torch 2\.1\.0 is installed; '
                      r'fdkd supports torch>=2\.14,<2\.15'):
        deps.check({**good, 'torch': '2.1.0'}.get)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        deps.check({**good, 'torch': '2.14.1+cu130'}.get)
