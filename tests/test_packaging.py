"""The files an OpenMMLab user looks for first agree with the package:
the license the metadata names, the citation's version and paper id."""
import os.path as osp
import re

import yaml

from fdkd_helpers import REPO_ROOT
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
