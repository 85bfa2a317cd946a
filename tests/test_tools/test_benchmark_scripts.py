"""The benchmark scripts run end to end on tiny data (nothing is timed
here: each run is the smallest the script allows, and the checks are on
what it prints, not on speed). A config renamed or moved breaks them here
instead of at the next ``make bench``."""
import pytest
import torch
from mmengine.config import Config

from fdkd_helpers import load_script


@pytest.fixture(autouse=True)
def process_state_kept():
    """A benchmark run in-process leaves the process as it found it: the
    config formatting the Runner's log skips while timing, and the thread
    count (the scripts' --threads sets it; restored here, as the command
    line's process ends)."""
    formatted, threads = Config.pretty_text, torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
    assert Config.pretty_text is formatted


@pytest.mark.slow
def test_teacher_cache_benchmark(tiny_avdigits, tmp_path, capsys):
    bench = load_script('benchmarks/teacher_cache.py')
    bench.main(['--data-root', tiny_avdigits, '--max-iters', '1',
                '--epochs', '2', '--work-dir', str(tmp_path)])
    out = capsys.readouterr().out
    # the cache stores what the teacher computes: same losses on and off
    assert 'First-epoch losses identical with the cache on and off: yes' \
        in out
    assert '| memory ' in out and 'Machine: ' in out


@pytest.mark.slow
def test_train_step_benchmark(tiny_avdigits):
    bench = load_script('benchmarks/train_step.py')
    table = bench.main([
        '--parts', 'feat', 'plain', '--steps', '2', '--warmup', '1',
        '--batch-size', '4', '--data-root', tiny_avdigits, '--threads', '1'
    ])
    # FDKD against MMRazor's FitNet (Feat), our step against a plain loop
    for row in ('| Feat (mmrazor.L2Loss) |', '| FDKD / Feat ',
                '| plain PyTorch loop ', '| MMEngine / plain '):
        assert row in table, row


@pytest.mark.slow
def test_audio_frontend_benchmark(tiny_avdigits):
    bench = load_script('benchmarks/audio_frontend.py')
    table = bench.main(['--clips', '4', '--reps', '1', '--data-root',
                        tiny_avdigits])
    assert 'librosa' in table and 'clips/s' in table
