"""No load path unpickles code (issue 13, item 2).

A crafted checkpoint whose unpickling would create a file (``__reduce__``
returning ``(open, (path, 'w'))``) is refused, naming the file, the global
and ``--unsafe-load``, and the file is NOT created: through ``teacher_ckpt``,
``load_from``, ``--resume``, ``tools/test.py``, ``extract_student.py`` and
the pickled spectrogram format. With the trust option it loads (the file is
created: the payload is real). Every checkpoint the project writes still
loads restricted.
"""
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from fdkd_plugin import compat
from fdkd_plugin.datasets.transforms.loading import LoadSpectrogram
from fdkd_plugin.registry import MODELS
from fdkd_plugin.utils import checkpoint as ckpt_mod
from fdkd_plugin.utils import cli
from fdkd_plugin.utils.checkpoint import (UnsafePickleError,
                                          load_numpy_pickle, pickle_globals,
                                          safe_load, unsafe_load)

from fdkd_helpers import REPO_ROOT, load_script, tiny_cfg_options

UNI_VISUAL = osp.join(REPO_ROOT, 'configs/unimodal/r18-w32_1xb32-12e_avdigits-'
                                 'visual.py')
FDKD = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                           'audio-from-visual.py')


class CreateFile:
    """Unpickling this calls ``open(path, 'w')``: it creates ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture(autouse=True)
def _restore_trust():
    """Every test starts and ends with the process refusing unknown
    globals (the tools set it from the config)."""
    ckpt_mod.set_unsafe_load(False)
    yield
    ckpt_mod.set_unsafe_load(False)


def crafted(path, marker, state_dict=None, protocol=2) -> str:
    """A checkpoint with real weights and a payload that creates ``marker``
    when unpickled."""
    torch.save(
        dict(
            meta=dict(epoch=1, iter=5),
            state_dict=state_dict if state_dict is not None else
            {'w': torch.ones(2)},
            payload=CreateFile(str(marker))),
        str(path),
        pickle_protocol=protocol)
    assert not osp.exists(marker)
    return str(path)


def assert_refused(err: BaseException, path: str, marker) -> None:
    message = str(err)
    assert path in message
    assert 'io.open' in message
    assert '--unsafe-load' in message and 'unsafe_load = True' in message
    assert not osp.exists(marker), 'the crafted payload ran'


def build_model(cfg_model):
    with DefaultScope.overwrite_default_scope('fdkd'):
        return MODELS.build(cfg_model)


def visual_state() -> dict:
    """A freshly built AV-digits visual model's weights (a valid teacher /
    unimodal checkpoint)."""
    return build_model(Config.fromfile(UNI_VISUAL).model).state_dict()


# --------------------------------------------------------------- safe_load
def test_safe_load_refuses_crafted_checkpoint(tmp_path):
    marker = tmp_path / 'pwned'
    path = crafted(tmp_path / 'evil.pth', marker)
    with pytest.raises(UnsafePickleError) as info:
        safe_load(path)
    assert_refused(info.value, path, marker)
    assert info.value.globals == ['io.open']
    assert info.value.path == path
    # trust=False wins over a trusting process
    with unsafe_load(), pytest.raises(UnsafePickleError):
        safe_load(path, trust=False)
    assert not osp.exists(marker)


@pytest.mark.parametrize('how', ['argument', 'process'])
def test_safe_load_trusted_runs_the_payload(tmp_path, how):
    marker = tmp_path / 'pwned'
    path = crafted(tmp_path / 'evil.pth', marker)
    if how == 'argument':
        ckpt = safe_load(path, trust=True)
    else:
        with unsafe_load():
            ckpt = safe_load(path)
    assert osp.exists(marker)  # the payload is real
    ckpt['payload'].close()
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))


def test_safe_load_names_globals_of_protocol_4(tmp_path):
    # torch's weights-only unpickler stops at STACK_GLOBAL without a name
    marker = tmp_path / 'pwned'
    path = crafted(tmp_path / 'evil4.pth', marker, protocol=4)
    with pytest.raises(UnsafePickleError) as info:
        safe_load(path)
    assert_refused(info.value, path, marker)
    assert 'pickle protocol >= 4' in str(info.value)


def test_pickle_globals_reads_both_protocols():
    for protocol in (2, 4, 5):
        data = pickle.dumps([CreateFile('x'), np.zeros(2)], protocol=protocol)
        names = pickle_globals(data)
        assert 'io.open' in names, (protocol, names)
        assert any(n.endswith('_reconstruct') or n.endswith('_frombuffer')
                   for n in names), (protocol, names)


def test_runner_like_checkpoint_loads_without_trust(tmp_path):
    hub = HistoryBuffer()
    hub.update(0.5)
    path = str(tmp_path / 'runner_like.pth')
    torch.save(
        dict(
            state_dict={'w': torch.ones(2)},
            message_hub=dict(log_scalars={'loss': hub}),
            meta=dict(dtype=np.dtype('float64'), best=np.float64(0.25),
                      count=np.int64(3), arr=np.arange(3))), path)
    ckpt = safe_load(path)
    assert ckpt['message_hub']['log_scalars']['loss'].current() == 0.5
    assert ckpt['meta']['best'] == 0.25 and ckpt['meta']['count'] == 3
    assert ckpt['meta']['dtype'] == np.float64
    np.testing.assert_array_equal(ckpt['meta']['arr'], [0, 1, 2])


def test_fresh_process_loads_a_runner_checkpoint(tmp_path):
    # HistoryBuffer registers its statistics methods only when its first
    # instance is made: a fresh process that resumes has an empty table
    # (this failed --resume in CI while every in-process test passed)
    import subprocess
    hub = HistoryBuffer()
    hub.update(0.5)
    path = str(tmp_path / 'runner_like.pth')
    torch.save(dict(message_hub=dict(log_scalars={'loss': hub})), path)
    code = (
        'import sys\n'
        'from mmengine.logging import HistoryBuffer\n'
        'assert not HistoryBuffer._statistics_methods\n'
        'from fdkd_plugin.utils.checkpoint import safe_load\n'
        f'ckpt = safe_load({path!r})\n'
        "h = ckpt['message_hub']['log_scalars']['loss']\n"
        "print(h.current(), h.statistics('mean'))\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ['0.5', '0.5']


def test_allow_list_is_scoped_to_our_loads(tmp_path):
    # a user's own add_safe_globals survives our context; a plain
    # torch.load elsewhere keeps torch's default list
    path = str(tmp_path / 'hb.pth')
    torch.save({'h': HistoryBuffer()}, path)

    class Mine:
        pass

    before = set(torch.serialization.get_safe_globals())
    with torch.serialization.safe_globals([HistoryBuffer, Mine]):
        safe_load(path)
        assert set(torch.serialization.get_safe_globals()) == before | {
            HistoryBuffer, Mine
        }
    safe_load(path)
    assert set(torch.serialization.get_safe_globals()) == before
    assert HistoryBuffer not in before
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(path, weights_only=True)


def test_safe_load_expands_user_as_mmengine(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    torch.save({'state_dict': {'w': torch.zeros(3)}},
               str(tmp_path / 'ckpt.pth'))
    assert torch.equal(safe_load('~/ckpt.pth')['state_dict']['w'],
                       torch.zeros(3))
    # the path MMEngine's load_from / teacher_ckpt / resume take
    loaded = CheckpointLoader.load_checkpoint('~/ckpt.pth', map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.zeros(3))
    with pytest.raises(FileNotFoundError,
                       match=f'{tmp_path}/missing.pth can not be found'):
        CheckpointLoader.load_checkpoint('~/missing.pth')


def test_mmengine_local_scheme_is_the_safe_loader(tmp_path):
    assert CheckpointLoader._schemes[''] is compat.load_from_local_safe
    marker = tmp_path / 'pwned'
    path = crafted(tmp_path / 'evil.pth', marker)
    with pytest.raises(UnsafePickleError) as info:
        CheckpointLoader.load_checkpoint(path)
    assert_refused(info.value, path, marker)


# ------------------------------------------------------------ config / flag
def test_unsafe_load_flag_sets_config_key_and_trust(tmp_path):
    parser = cli.test_parser()
    cfg = Config(dict(work_dir=str(tmp_path)))
    args = cli.parse(parser, [UNI_VISUAL, 'x.pth', '--unsafe-load'])
    cfg = cli.merge_test_args(cfg, args)
    assert cfg.unsafe_load is True and ckpt_mod.unsafe_load_enabled()
    # a later run of the process without the flag refuses again
    args = cli.parse(parser, [UNI_VISUAL, 'x.pth'])
    cfg = cli.merge_test_args(Config(dict(work_dir=str(tmp_path))), args)
    assert 'unsafe_load' not in cfg and not ckpt_mod.unsafe_load_enabled()
    # the config key alone (config file or --cfg-options) trusts as well
    args = cli.parse(
        parser, [UNI_VISUAL, 'x.pth', '--cfg-options', 'unsafe_load=True'])
    cli.merge_test_args(Config(dict(work_dir=str(tmp_path))), args)
    assert ckpt_mod.unsafe_load_enabled()
    args = cli.parse(
        parser, [UNI_VISUAL, 'x.pth', '--cfg-options', 'unsafe_load=yes'])
    with pytest.raises(TypeError, match="unsafe_load='yes' must be True or"):
        cli.merge_test_args(Config(dict(work_dir=str(tmp_path))), args)


# ------------------------------------------------------- every load path
def test_teacher_ckpt_crafted_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    state = visual_state()
    path = crafted(tmp_path / 'teacher.pth', marker, state)
    cfg = Config.fromfile(FDKD)
    cfg.model.teacher_ckpt = path
    with pytest.raises(UnsafePickleError) as info:
        build_model(cfg.model)
    assert_refused(info.value, path, marker)
    with unsafe_load():
        model = build_model(cfg.model)
    assert osp.exists(marker)
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, state[k]), k


def tiny_runner_cfg(config, data_root, work_dir, **extra):
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(tiny_cfg_options(data_root))
    cfg.merge_from_dict(extra)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = osp.basename(str(work_dir))
    return cfg


def test_load_from_crafted_is_refused(tiny_avdigits, tmp_path):
    marker = tmp_path / 'pwned'
    path = crafted(tmp_path / 'evil.pth', marker, visual_state())
    cfg = tiny_runner_cfg(UNI_VISUAL, tiny_avdigits, tmp_path / 'run',
                          load_from=path)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(UnsafePickleError) as info:
        runner.load_or_resume()
    assert_refused(info.value, path, marker)


def run_tool_main(script, argv, monkeypatch):
    """A tool's main() in this process, as ``python script argv``."""
    monkeypatch.setattr(sys, 'argv', [script] + list(argv))
    monkeypatch.setenv('LOCAL_RANK', '0')
    return load_script(script).main()


def tool_options(data_root, **extra):
    opts = tiny_cfg_options(data_root)
    opts.update(extra)
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


def test_resume_crafted_is_refused(tiny_avdigits, tmp_path, monkeypatch):
    marker = tmp_path / 'pwned'
    path = crafted(tmp_path / 'evil.pth', marker, visual_state())
    with pytest.raises(UnsafePickleError) as info:
        run_tool_main('tools/train.py', [
            UNI_VISUAL, '--work-dir',
            str(tmp_path / 'run'), '--resume', path
        ] + tool_options(tiny_avdigits), monkeypatch)
    assert_refused(info.value, path, marker)


def test_tools_test_crafted_refused_then_trusted(tiny_avdigits, tmp_path,
                                                 monkeypatch):
    marker = tmp_path / 'pwned'
    path = crafted(tmp_path / 'evil.pth', marker, visual_state())
    argv = [UNI_VISUAL, path, '--work-dir', str(tmp_path / 'test')]
    with pytest.raises(UnsafePickleError) as info:
        run_tool_main('tools/test.py', argv + tool_options(tiny_avdigits),
                      monkeypatch)
    assert_refused(info.value, path, marker)
    out = str(tmp_path / 'metrics.json')
    run_tool_main('tools/test.py', argv + ['--unsafe-load', '--out', out] +
                  tool_options(tiny_avdigits), monkeypatch)
    assert osp.exists(marker) and osp.isfile(out)


def test_extract_student_crafted_refused_then_trusted(tmp_path, capsys):
    marker = tmp_path / 'pwned'
    state = {'architecture.fc.weight': torch.ones(2, 2),
             'teacher.fc.weight': torch.zeros(2, 2)}
    path = crafted(tmp_path / 'evil.pth', marker, state)
    extract = load_script('tools/model_converters/extract_student.py')
    dst = str(tmp_path / 'student.pth')
    with pytest.raises(SystemExit) as info:
        extract.main([path, dst])
    assert info.value.code == 2
    assert_refused(capsys.readouterr().err, path, marker)
    assert not osp.exists(dst)
    extract.main([path, dst, '--unsafe-load'])
    assert osp.exists(marker)
    out = torch.load(dst, weights_only=True)
    assert torch.equal(out['state_dict']['fc.weight'], torch.ones(2, 2))
    with pytest.raises(SystemExit):
        extract.main([str(tmp_path / 'missing.pth'), dst])
    assert 'missing.pth does not exist' in capsys.readouterr().err


# --------------------------------------------------- pickled spectrograms
@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_numpy_pickle_reads_arrays(tmp_path, protocol):
    spec = np.random.RandomState(0).rand(4, 6).astype(np.float32)
    for name, array in (('c', spec), ('f', np.asfortranarray(spec))):
        path = tmp_path / f'{name}{protocol}.pkl'
        path.write_bytes(pickle.dumps(array, protocol=protocol))
        np.testing.assert_array_equal(load_numpy_pickle(str(path)), spec)
        out = LoadSpectrogram.read(str(path))
        assert out.shape == (1, 4, 6)
        np.testing.assert_array_equal(out[0], spec)


@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_spectrogram_crafted_pickle_is_refused(tmp_path, protocol):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pkl')
    with open(path, 'wb') as f:
        pickle.dump([CreateFile(str(marker)), np.zeros((2, 2))], f,
                    protocol=protocol)
    with pytest.raises(UnsafePickleError) as info:
        LoadSpectrogram().transform(dict(spec_path=path, clip_id='c0'))
    assert_refused(info.value, path, marker)
    assert info.value.globals == ['io.open']
    assert 'may only hold numpy arrays' in str(info.value)
    with unsafe_load():  # what --unsafe-load does in the tools
        obj = load_numpy_pickle(path)
    assert osp.exists(marker)
    obj[0].close()


def test_numpy_pickle_refuses_other_numpy_globals(tmp_path):
    # only array reconstruction: not even numpy scalars or np.load
    path = str(tmp_path / 'other.pkl')
    with open(path, 'wb') as f:
        pickle.dump(np.float64(1.0), f)
    with pytest.raises(UnsafePickleError, match='multiarray.scalar'):
        load_numpy_pickle(path)


# ------------------------------------- what the project writes still loads
@pytest.mark.slow
def test_project_checkpoints_load_restricted(tiny_avdigits, tmp_path,
                                             monkeypatch):
    """1 tiny epoch, --resume to 2, a distillation from that teacher, its
    extracted student: all read with nothing but the allow-list."""
    def train(config, work, epochs, resume=False, **extra):
        run_tool_main(
            'tools/train.py', [config, '--work-dir', work] +
            (['--resume'] if resume else []) + tool_options(
                tiny_avdigits, **{
                    'train_cfg.max_epochs': epochs,
                    'param_scheduler.0.end': epochs,
                    'default_hooks.logger.interval': 1
                }, **extra), monkeypatch)

    uni = str(tmp_path / 'uni')
    train(UNI_VISUAL, uni, 1)
    first = safe_load(osp.join(uni, 'epoch_1.pth'), trust=False)
    scalars = first['message_hub']['log_scalars']
    assert isinstance(scalars['train/loss'], HistoryBuffer)
    assert first['meta']['epoch'] == 1
    train(UNI_VISUAL, uni, 2, resume=True)  # through the safe scheme
    second = safe_load(osp.join(uni, 'epoch_2.pth'), trust=False)
    assert second['meta']['epoch'] == 2
    # the resumed run continued the first one's message hub
    assert len(second['message_hub']['log_scalars']['train/loss']
               ._log_history) > len(scalars['train/loss']._log_history)

    selected = osp.join(uni, 'selected.pth')
    cfg = Config.fromfile(FDKD)
    cfg.model.teacher_ckpt = selected
    teacher = build_model(cfg.model).teacher
    loaded = safe_load(selected, trust=False)['state_dict']
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, loaded[k]), k

    fdkd = str(tmp_path / 'fdkd')
    train(FDKD, fdkd, 1, **{'model.teacher_ckpt': selected})
    distilled = safe_load(osp.join(fdkd, 'selected.pth'), trust=False)
    assert any(k.startswith('architecture.') for k in distilled['state_dict'])
    extract = load_script('tools/model_converters/extract_student.py')
    student = str(tmp_path / 'student.pth')
    extract.main([osp.join(fdkd, 'selected.pth'), student])
    plain = safe_load(student, trust=False)['state_dict']
    key = 'backbone.conv1.weight'
    assert torch.equal(plain[key],
                       distilled['state_dict']['architecture.' + key])


def test_teacher_cache_meta_crafted_is_refused(tmp_path):
    # the disk teacher cache's meta.pt (teacher_cache.files.load_meta)
    from fdkd_plugin.models.algorithms import teacher_cache as tc
    from fdkd_plugin.models.algorithms.teacher_cache.files import (
        UnsafeCacheFile, load_meta)
    marker = tmp_path / 'pwned'
    meta = str(tmp_path / 'meta.pt')
    torch.save(dict(format=tc._FORMAT, spec=CreateFile(str(marker)),
                    shapes=[[4]], dtypes=['float32']), meta)
    with pytest.raises(UnsafeCacheFile, match=r'meta\.pt.*io\.open'):
        load_meta(meta, tc._FORMAT, str(tmp_path), tc._NP_DTYPES)
    assert not osp.exists(marker)
