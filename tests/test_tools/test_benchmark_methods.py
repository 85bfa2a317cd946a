"""benchmarks/avdigits_kd.py: every method row names a shipped config in
both directions, and its options set what its label says."""
import os.path as osp

import pytest
from mmengine.config import Config, DictAction

from fdkd_helpers import REPO_ROOT, load_script

BENCH = load_script('benchmarks/avdigits_kd.py')
CASES = [(m, d) for m in BENCH.METHODS for d in BENCH.DIRECTIONS]


@pytest.mark.parametrize('method,direction', CASES,
                         ids=[f'{m}-{d}' for m, d in CASES])
def test_method_row_config_and_options(method, direction):
    label, config, extra = BENCH.METHODS[method]
    path = osp.join(REPO_ROOT, config(direction))
    assert osp.isfile(path), path
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(
        {k: DictAction._parse_iterable(v)
         for k, v in (e.split('=', 1) for e in extra)})
    distiller = cfg.model.distiller
    assert (distiller.get('reduction') == 'sum_per_sample') == (
        'sum_per_sample' in label)
    assert (cfg.model.get('control') == 'untrained_teacher') == (
        'untrained' in label)
    assert ('loss_kl' in distiller.get('distill_losses', {})) == (
        'Logit KD' in label)
    if 'lambda' in label:
        lam = float(label.rsplit(' ', 1)[1])
        assert distiller.lambda_low == distiller.lambda_high == lam


def test_mean_std_lists_every_seed():
    assert BENCH.mean_std([1.0]) == '1.00'
    assert BENCH.mean_std([1.0, 2.0, 3.0]) == '2.00 ± 1.00 (1.0, 2.0, 3.0)'
