"""Test-suite set-up: the plugin is imported first (its compat fixes must
precede any ``import mmrazor.models``), and tests run on CPU, offline."""
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

import fdkd_plugin  # noqa: E402,F401

import pytest  # noqa: E402

from fdkd_helpers import load_script  # noqa: E402


@pytest.fixture(scope='session')
def tiny_avdigits(tmp_path_factory) -> str:
    """A small real AV-digits set (40/20/20 clips), built once per session
    with the project's own generator."""
    root = tmp_path_factory.mktemp('avdigits')
    make = load_script('tools/dataset_converters/make_avdigits.py')
    make.main([
        '--out',
        str(root), '--num-train', '40', '--num-val', '20', '--num-test',
        '20', '--seed', '1'
    ])
    return str(root)


@pytest.fixture
def fdkd_scope():
    """The fdkd default scope and one thread for the test (model-building
    tests: small ops, where a second thread only adds noise)."""
    import torch
    from mmengine.registry import DefaultScope
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with DefaultScope.overwrite_default_scope('fdkd'):
        yield
    torch.set_num_threads(threads)
