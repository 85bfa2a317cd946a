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
                '| plain PyTorch loop ', '| MMEngine / plain ',
                'The loss terms alone'):
        assert row in table, row


@pytest.mark.slow
def test_audio_frontend_benchmark(tiny_avdigits):
    bench = load_script('benchmarks/audio_frontend.py')
    table = bench.main(['--clips', '4', '--reps', '1', '--data-root',
                        tiny_avdigits])
    assert 'librosa' in table and 'clips/s' in table


@pytest.mark.slow
def test_scaling_benchmark(tiny_avdigits, tmp_path):
    import json
    bench = load_script('benchmarks/scaling.py')
    text = bench.main(['--data-root', tiny_avdigits, '--scales', '1', '2',
                       '--variants', 'memory', '--epochs', '2',
                       '--work-dir', str(tmp_path)])
    runs = {k: json.loads((tmp_path / f'x{k}_memory' /
                           'result.json').read_text()) for k in (1, 2)}
    # x2 lists each of the 40 training clips twice, each its own sample
    assert (runs[1]['samples'], runs[2]['samples']) == (40, 80)
    assert (runs[1]['iters'], runs[2]['iters']) == (2, 3)  # batch 32
    # one cache row per sample, all of one size: twice the samples, twice
    # the bytes
    assert runs[1]['cache_bytes'] > 0
    assert runs[2]['cache_bytes'] == 2 * runs[1]['cache_bytes']
    for r in runs.values():
        assert len(r['epoch_s']) == 2 and min(r['epoch_s']) > 0
        # epoch 2 is served whole: the audio is no longer loaded
        assert r['skipped_inputs'] == [False, True]
        assert r['rss_peak_bytes'] > 100 * 2**20  # torch alone is more
    assert '| x2    | 80 ' in text and 'Growth from x1 to x2' in text


def test_scaling_report_reads_the_ratios():
    bench = load_script('benchmarks/scaling.py')
    args = bench.parse_args(['--scales', '1', '4',
                             '--variants', 'uni', 'memory'])

    def run(variant, k, epoch_s, cache):
        return dict(scale=k, variant=variant, samples=100 * k, iters=4 * k,
                    startup_s=5.0, epoch_s=epoch_s, cache_bytes=cache,
                    rss_peak_bytes=2**30 + k * 2**20,
                    workers_rss_peak_bytes=2**29, cuda_peak_bytes=None)

    text = bench.report([
        run('uni', 1, [3.0, 2.0], None),
        run('memory', 1, [4.0, 2.0], 100 * 2048),
        run('uni', 4, [9.0, 8.0], None),
        run('memory', 4, [12.0, 9.0], 400 * 2048)
    ], args)
    # epochs 2+ of FDKD with the cache over Uni: 2/2 and 9/8
    assert ('FDKD with the memory cache / Uni, epochs 2+: x1 1.00, x4 1.12 '
            '(goal <= 1.05: NOT met)') in text
    assert '- memory: epoch time x4.50, peak RSS +3 MiB' in text
    assert 'cache 2.00 KiB per sample' in text
