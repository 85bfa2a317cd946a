"""docs/reliability.md stays true: every row names tests that exist."""
import ast
import os.path as osp
import re

from fdkd_helpers import REPO_ROOT

DOC = osp.join(REPO_ROOT, 'docs', 'reliability.md')


def _doc():
    with open(DOC, encoding='utf-8') as f:
        return f.read()


def _aliases(text):
    return dict(
        re.findall(r'^- `(\w+)` = `(tests/[\w/]+\.py)`$', text, re.M))


def _tests_in(path):
    with open(osp.join(REPO_ROOT, path), encoding='utf-8') as f:
        tree = ast.parse(f.read())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_matrix_row_names_existing_tests():
    text = _doc()
    aliases = _aliases(text)
    assert len(aliases) == 9, aliases
    rows = re.findall(r'^\| (\d+) \|(.*)\|$', text, re.M)
    assert len(rows) >= 25
    assert [int(n) for n, _ in rows] == list(range(1, len(rows) + 1))
    for number, row in rows:
        refs = re.findall(r'`(\w+)::(\w+)`', row)
        assert refs, f'row {number} names no test'
        for alias, name in refs:
            assert alias in aliases, (number, alias)
            assert name in _tests_in(aliases[alias]), \
                f'row {number}: {alias}::{name} does not exist'
