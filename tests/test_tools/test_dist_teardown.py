"""Clean ends of distributed runs (issue 13, item 1): the process group is
destroyed and loader workers are joined, so a finished ``torchrun`` job
never aborts at exit; two "nodes" on this machine train to one set of
weights."""
import glob
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from fdkd_helpers import REPO_ROOT, load_script
from fdkd_plugin.engine import teardown

tools = load_script('tests/test_tools/test_train_tools.py')
TEARDOWN = osp.join(REPO_ROOT, 'fdkd_plugin', 'engine', 'teardown.py')


class _Squares(torch.utils.data.Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.tensor([float(i * i)])


def _persistent_loader():
    return DataLoader(
        _Squares(), batch_size=4, num_workers=2, persistent_workers=True)


def test_shutdown_loader_workers_joins_persistent_workers():
    loader = _persistent_loader()
    assert torch.cat([b for b in loader]).flatten().tolist() == [
        0., 1., 4., 9., 16., 25., 36., 49.]
    workers = list(loader._iterator._workers)
    assert len(workers) == 2 and all(w.is_alive() for w in workers)
    assert teardown.shutdown_loader_workers(loader)
    assert not any(w.is_alive() for w in workers)
    assert loader._iterator is None
    # nothing left to shut down; a loader without workers is a no-op
    assert not teardown.shutdown_loader_workers(loader)
    assert not teardown.shutdown_loader_workers(DataLoader(_Squares()))
    assert not teardown.shutdown_loader_workers(None)


class _Loop:

    def __init__(self, loader):
        self.dataloader = loader


class _Runner:
    """What clean_exit reads from an MMEngine runner: its built loops (an
    unbuilt loop is still a dict there)."""

    def __init__(self, loader):
        self._train_loop = _Loop(loader)
        self._val_loop = dict(type='ValLoop')
        self._test_loop = None


def _init_one_rank_group(tmp_path):
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/store', rank=0,
        world_size=1)


def test_clean_exit_destroys_the_group_and_joins_workers(tmp_path):
    _init_one_rank_group(tmp_path)
    try:
        loader = _persistent_loader()
        with teardown.clean_exit() as session:
            runner = session.track(_Runner(loader))
            assert runner is session.runners[0]
            list(loader)
            workers = list(loader._iterator._workers)
            t = torch.ones(3)
            dist.all_reduce(t)
        assert not dist.is_initialized()
        assert not any(w.is_alive() for w in workers)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_clean_exit_on_error_joins_workers_and_reraises(tmp_path):
    _init_one_rank_group(tmp_path)
    try:
        loader = _persistent_loader()
        with pytest.raises(RuntimeError, match='boom'):
            with teardown.clean_exit() as session:
                session.track(_Runner(loader))
                list(loader)
                workers = list(loader._iterator._workers)
                raise RuntimeError('boom')
        assert not any(w.is_alive() for w in workers)
        # no barrier on the error path (the other ranks may never reach
        # it): the group is left to the launcher, which stops the job
        assert dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_clean_exit_without_a_group_is_a_no_op():
    assert not dist.is_initialized()
    with teardown.clean_exit() as session:
        pass
    assert session.runners == [] and not dist.is_initialized()


GLOO_SCRIPT = textwrap.dedent('''
    import importlib.util, os, sys
    import torch
    import torch.distributed as dist
    dist.init_process_group('gloo')
    t = torch.ones(1000)
    for _ in range(20):
        dist.all_reduce(t)
        dist.broadcast(t, 0)
    spec = importlib.util.spec_from_file_location('teardown', sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with module.clean_exit():
        pass
    if not dist.is_initialized():  # a file per rank: stdout interleaves
        open(os.path.join(sys.argv[2], os.environ['RANK']), 'w').close()
''')


@pytest.mark.slow
def test_gloo_job_exits_cleanly_ten_times(tmp_path):
    """The abort's own reproduction: 4 gloo ranks that exit without
    destroying their group abort at exit in 7 of 10 runs here (16 of 20 in
    an earlier measurement); through clean_exit, 0 of 10."""
    script = tmp_path / 'gloo_job.py'
    script.write_text(GLOO_SCRIPT)
    for attempt in range(10):
        done = tmp_path / f'done{attempt}'
        done.mkdir()
        proc = subprocess.run(
            [
                sys.executable, '-m', 'torch.distributed.run',
                '--nproc_per_node=4', f'--master_port={tools.free_port()}',
                str(script), TEARDOWN,
                str(done)
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(os.environ, OMP_NUM_THREADS='1'))
        assert proc.returncode == 0, (f'run {attempt + 1} of 10:\n' +
                                      proc.stderr[-3000:])
        # every rank left the group destroyed
        assert sorted(os.listdir(done)) == ['0', '1', '2', '3']


@pytest.mark.slow
def test_dist_train_two_processes_ten_times_in_a_row(tiny_avdigits,
                                                       tmp_path):
    """The run the flake was seen in, launched as a user does, 10 times."""
    for attempt in range(10):
        work = str(tmp_path / f'run{attempt}')
        out = tools.run_tool(
            [
                'bash', 'tools/dist_train.sh', tools.UNI_AUDIO, '2',
                '--work-dir', work, '--cfg-options',
                *tools.options(tiny_avdigits, epochs=1)
            ],
            env=dict(PORT=str(tools.free_port())))
        assert 'GPU number: 2' in out, f'run {attempt + 1}: ' + out[-2000:]
        assert osp.isfile(osp.join(work, 'epoch_1.pth'))


RANK_DUMP_HOOK = textwrap.dedent('''
    """Test-only hook: every rank saves its final model state."""
    import os
    import torch
    from mmengine.hooks import Hook
    from mmengine.model import is_model_wrapper
    from mmengine.registry import HOOKS


    @HOOKS.register_module()
    class RankDumpHook(Hook):

        def after_train(self, runner):
            model = runner.model
            if is_model_wrapper(model):
                model = model.module
            path = os.path.join(os.environ['RANK_DUMP_DIR'],
                                f'rank{os.environ["RANK"]}.pt')
            torch.save(
                dict(params={k: v.detach().clone()
                             for k, v in model.named_parameters()},
                     buffers={k: v.clone()
                              for k, v in model.named_buffers()}), path)
''')


@pytest.mark.slow
def test_two_nodes_train_to_the_same_weights(tiny_avdigits, tmp_path):
    """Two dist_train.sh launchers, NNODES=2 and NODE_RANK 0 / 1, one
    MASTER_ADDR and PORT, 2 processes each: both finish, and all 4 ranks end
    with identical parameters, which are the ones the checkpoint holds."""
    hook_dir = tmp_path / 'hook'
    hook_dir.mkdir()
    (hook_dir / 'rank_dump_hook.py').write_text(RANK_DUMP_HOOK)
    dumps = tmp_path / 'dumps'
    dumps.mkdir()
    config = tmp_path / 'two_nodes.py'
    config.write_text(
        textwrap.dedent(f'''
        _base_ = [{osp.join(REPO_ROOT, tools.UNI_AUDIO)!r}]
        custom_imports = dict(
            imports=['fdkd_plugin', 'rank_dump_hook'],
            allow_failed_imports=False)
        custom_hooks = _base_.custom_hooks + [dict(type='RankDumpHook')]
        '''))
    work = str(tmp_path / 'work')
    port = str(tools.free_port())
    env = dict(
        os.environ,
        NNODES='2',
        MASTER_ADDR='127.0.0.1',
        PORT=port,
        RANK_DUMP_DIR=str(dumps),
        PYTHONPATH=os.pathsep.join(
            [str(hook_dir), os.environ.get('PYTHONPATH', '')]))
    cmd = [
        'bash', 'tools/dist_train.sh',
        str(config), '2', '--work-dir', work, '--cfg-options',
        *tools.options(tiny_avdigits, epochs=2)
    ]
    nodes = [
        subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=dict(env, NODE_RANK=str(node)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True) for node in (0, 1)
    ]
    outs = []
    try:
        for node, proc in enumerate(nodes):
            out, _ = proc.communicate(timeout=600)
            outs.append(out)
            assert proc.returncode == 0, f'node {node}:\n' + out[-4000:]
    finally:
        for proc in nodes:
            if proc.poll() is None:
                proc.kill()
    # rank 0's log file (stdout interleaves 2 processes): 40 clips, batch 8,
    # 4 ranks: 2 iterations an epoch
    (log, ) = glob.glob(osp.join(work, '*', '*.log'))
    with open(log) as f:
        text = f.read()
    assert 'GPU number: 4' in text and 'Epoch(train) [2][2/2]' in text
    states = [torch.load(dumps / f'rank{r}.pt') for r in range(4)]
    ref = states[0]['params']
    assert len(ref) > 10
    for rank, state in enumerate(states[1:], start=1):
        assert state['params'].keys() == ref.keys()
        for name, value in state['params'].items():
            assert torch.equal(value, ref[name]), (rank, name)
    # they are what rank 0 saved, and the second epoch changed them
    last, first = (torch.load(
        osp.join(work, f'epoch_{e}.pth'), weights_only=False)['state_dict']
                   for e in (2, 1))
    for name, value in ref.items():
        assert torch.equal(last[name], value), name
    assert any(not torch.equal(first[n], ref[n]) for n in ref)
    # BN running statistics stay per process, as in MMEngine's own DDP
    # (broadcast_buffers=False; SyncBN needs CUDA): each rank saw other
    # clips, so rank 1's differ from rank 0's
    means = [n for n in states[0]['buffers'] if n.endswith('running_mean')]
    assert means
    assert any(not torch.equal(states[1]['buffers'][n],
                               states[0]['buffers'][n]) for n in means)
