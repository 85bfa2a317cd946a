"""fdkd_plugin.utils.runs: the tool processes get this checkout on their
path and, when asked, a thread count (the demo's two lanes)."""
import sys

import pytest

from fdkd_plugin.utils import runs

PRINT_ENV = ('import os; print(os.environ.get("OMP_NUM_THREADS"), '
             'os.environ.get("MKL_NUM_THREADS"), '
             'os.environ["PYTHONPATH"].split(os.pathsep)[0])')


@pytest.mark.parametrize('threads', [None, 1, 3])
def test_threads_reach_the_tool_process(tmp_path, monkeypatch, threads):
    monkeypatch.setenv('OMP_NUM_THREADS', '7')
    monkeypatch.setenv('MKL_NUM_THREADS', '7')
    log = tmp_path / 'run.log'
    runs._run([sys.executable, '-c', PRINT_ENV], str(log), threads)
    want = str(threads or 7)
    assert log.read_text().split() == [want, want, runs.REPO_ROOT]


def test_a_failing_tool_raises_with_its_log_tail(tmp_path):
    log = tmp_path / 'run.log'
    with pytest.raises(RuntimeError, match=r'(?s)failed \(3\).*boom'):
        runs._run([
            sys.executable, '-c',
            'import sys; print("boom"); sys.exit(3)'
        ], str(log))
