"""Each compat fix works, and each is still needed.

The ``*_still_needed`` tests reproduce the host failure without the fix (in
a fresh interpreter where the fix would leak). When one of them fails, a host
release has fixed the problem: delete that fix from fdkd_plugin/compat.py and
its test.
"""
import pickle
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.distributed as dist

from fdkd_plugin import compat


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          capture_output=True,
                          text=True,
                          timeout=300)


# 1. mmrazor import on torch 2.14 -------------------------------------------
def test_mmrazor_import_fix_still_needed():
    proc = _python('import mmrazor.models')
    assert proc.returncode != 0, (
        'import mmrazor.models now works without fdkd_plugin.compat.'
        'patch_torch_ao_for_mmrazor: remove that fix')
    assert 'is not installed properly' in proc.stderr


def test_mmrazor_import_fix_works():
    # load compat.py alone: importing the package would apply it already
    proc = _python(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location('c', {compat.__file__!r})
        compat = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(compat)
        assert compat.patch_torch_ao_for_mmrazor() is True
        assert compat.patch_torch_ao_for_mmrazor() is False  # idempotent
        import mmrazor.models
        from mmrazor.models import ConfigurableDistiller, KLDivergence
        print('ok')
        """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'ok'


# 2. resume under torch.load(weights_only=True) ------------------------------
def _runner_like_checkpoint(path: str) -> None:
    from mmengine.logging import HistoryBuffer
    import numpy as np
    torch.save(
        dict(
            state_dict={'w': torch.ones(2)},
            message_hub=dict(log_scalars={'loss': HistoryBuffer()}),
            meta=dict(dtype=np.dtype('float64'))), path)


def test_checkpoint_fix_still_needed(tmp_path):
    # MMEngine's own local loader, which the fix replaces in the scheme
    from mmengine.runner.checkpoint import load_from_local
    path = str(tmp_path / 'ckpt.pth')
    _runner_like_checkpoint(path)
    with pytest.raises(Exception,
                       match='Weights only load failed(.|\n)*HistoryBuffer'):
        load_from_local(path, map_location='cpu')


def test_checkpoint_fix_loads_runner_checkpoints(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader
    path = str(tmp_path / 'ckpt.pth')
    _runner_like_checkpoint(path)
    assert compat.register_safe_checkpoint_loader() is \
        compat.load_from_local_safe
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert 'loss' in ckpt['message_hub']['log_scalars']
    # still weights-only: anything else is refused (tests/test_safe_load.py)
    torch.save({'f': print}, str(tmp_path / 'other.pth'))
    with pytest.raises(pickle.UnpicklingError, match='builtins.print'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'other.pth'))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'missing.pth'))


# 3. MMRazor's inplace=False switch on torch 2.14 ------------------------------
def _tiny_resnet():
    from mmpretrain.models import ResNet
    return ResNet(depth=18, base_channels=8, stem_channels=8)


def test_inplace_switch_fix_still_needed():
    # MMRazor's own recursion, on a fresh network: nothing is switched,
    # because torch keeps Module._modules in a plain dict now
    from mmrazor.models.algorithms.base import BaseAlgorithm
    assert BaseAlgorithm.set_module_inplace_false is \
        compat._set_module_inplace_false  # patched by import
    net = _tiny_resnet()
    # as SingleTeacherDistill calls it: (module, the expression naming it)
    original = compat._mmrazor_set_module_inplace_false

    class Unpatched:  # recursion goes through self, as in BaseAlgorithm
        def set_module_inplace_false(self, architecture, varstr):
            return original(self, architecture, varstr)

    Unpatched().set_module_inplace_false(net, 'architecture')
    relus = [m for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    assert relus and all(m.inplace for m in relus), (
        'MMRazor now switches inplace off by itself: delete '
        'patch_mmrazor_inplace_false from fdkd_plugin/compat.py')


def test_inplace_switch_fix_keeps_pre_relu_records():
    from mmrazor.models.task_modules import RecorderManager
    from mmengine.registry import MODELS, DefaultScope
    from mmpretrain.models import ImageClassifier
    assert compat.patch_mmrazor_inplace_false() is False  # idempotent
    cfg = dict(
        type='fdkd.CrossModalDistill',
        architecture=dict(
            type='mmpretrain.ImageClassifier',
            backbone=dict(type='mmpretrain.ResNet', depth=18,
                          base_channels=8, stem_channels=8),
            neck=dict(type='mmpretrain.GlobalAveragePooling'),
            head=dict(type='mmpretrain.LinearClsHead', num_classes=3,
                      in_channels=64)),
        distiller=dict(type='mmrazor.ConfigurableDistiller'),
        student_modality='a',
        teacher_modality='b')
    cfg['teacher'] = cfg['architecture']
    # the networks' unscoped defaults (ClsDataPreprocessor, CrossEntropyLoss)
    # are mmpretrain's, whatever default scope another test left behind
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg)
    for net in (model.student, model.teacher):
        assert isinstance(net, ImageClassifier)
        relus = [m for m in net.modules() if isinstance(m, torch.nn.ReLU)]
        assert relus and not any(m.inplace for m in relus)
    # the input of the last block's final ReLU keeps its negative values
    manager = RecorderManager(dict(feat=dict(
        type='mmrazor.ModuleInputs', source='backbone.layer4.1.relu')))
    manager.initialize(model.student)
    torch.manual_seed(0)
    with manager:
        model.student(torch.randn(2, 3, 32, 32), mode='tensor')
    pre = manager.get_recorder('feat').get_record_data(1, 0)
    assert (pre < 0).any()


# 4. torchrun on a CPU-only machine -------------------------------------------
@pytest.fixture
def single_process_group(monkeypatch):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for key, value in dict(
            RANK='0',
            LOCAL_RANK='0',
            WORLD_SIZE='1',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(port)).items():
        monkeypatch.setenv(key, value)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_cpu_distributed_fix_still_needed(single_process_group):
    from mmengine.dist import init_dist
    from mmengine.model import MMDistributedDataParallel
    # MMEngine's own init calls torch.cuda.set_device
    with pytest.raises((RuntimeError, AssertionError)):
        init_dist('pytorch', backend='gloo')
    if not dist.is_initialized():
        dist.init_process_group('gloo', rank=0, world_size=1)
    # and its default wrapper passes device_ids, refused for CPU modules
    with pytest.raises(ValueError, match='device_ids'):
        MMDistributedDataParallel(
            module=torch.nn.Linear(2, 2), device_ids=[0])


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_cpu_distributed_fix_works(single_process_group):
    from fdkd_plugin.engine import CPUDistributedDataParallel
    assert compat.init_cpu_distributed('none') is False
    assert compat.init_cpu_distributed('pytorch') is True
    assert dist.get_backend() == 'gloo'
    assert compat.init_cpu_distributed('pytorch') is False  # already up
    model = CPUDistributedDataParallel(
        module=torch.nn.Linear(2, 2), device_ids=[0])
    assert model.device_ids is None
    out = model(torch.ones(1, 2))
    assert out.shape == (1, 2)


# 5. one yapf formatting per config text ------------------------------------
class _CountingFormat:
    """yapf's ``FormatCode`` (the unpatched one), counting its calls."""

    def __init__(self, format_code) -> None:
        self.format_code = format_code
        self.calls = 0

    def __call__(self, text, *args, **kwargs):
        self.calls += 1
        return self.format_code(text, *args, **kwargs)


def _small_config():
    from mmengine import Config
    return Config(dict(model=dict(type='Net', depth=18, widths=[32, 64]),
                       optim=dict(lr=0.05)))


def test_config_format_fix_still_needed(monkeypatch):
    import mmengine.config.config as config_module
    counting = _CountingFormat(
        config_module.FormatCode.__wrapped_format_code__)
    monkeypatch.setattr(config_module, 'FormatCode', counting)
    cfg = _small_config()
    assert cfg.pretty_text == cfg.pretty_text
    # MMEngine formats the same text again on every call (logging it,
    # dumping it, each checkpoint's meta)
    assert counting.calls == 2, (
        'MMEngine now formats a config once by itself: delete '
        'patch_config_format_cache from fdkd_plugin/compat.py')


def test_config_format_fix_formats_each_text_once(monkeypatch):
    import mmengine.config.config as config_module
    assert compat.patch_config_format_cache() is False  # applied by import
    original = config_module.FormatCode.__wrapped_format_code__
    cfg = _small_config()
    monkeypatch.setattr(config_module, 'FormatCode', original)
    expected = cfg.pretty_text  # what MMEngine writes without the fix
    counting = _CountingFormat(original)
    monkeypatch.setattr(config_module, 'FormatCode',
                        compat._memoized_format_code(counting))
    assert cfg.pretty_text == expected
    assert cfg.pretty_text == expected
    assert counting.calls == 1
    # a changed config is formatted again, and says so
    cfg.optim.lr = 0.1
    assert 'lr=0.1' in cfg.pretty_text and counting.calls == 2
    cfg.optim.lr = 0.05
    assert cfg.pretty_text == expected and counting.calls == 2
    # the style is part of the key
    fmt = config_module.FormatCode
    text = 'x = dict(a=1,b=2)\n'
    pep8 = fmt(text, style_config=dict(based_on_style='pep8'))
    google = fmt(text, style_config=dict(based_on_style='google',
                                         column_limit=10))
    assert pep8 == original(text, style_config=dict(based_on_style='pep8'))
    assert google == original(
        text, style_config=dict(based_on_style='google', column_limit=10))
    assert counting.calls == 4
    # a text yapf refuses is not remembered: it raises every time
    for _ in range(2):
        with pytest.raises(Exception):
            fmt('x = (', style_config=dict(based_on_style='pep8'))
    assert counting.calls == 6


def test_config_format_cache_is_bounded(monkeypatch):
    counting = _CountingFormat(lambda text, **kw: (text.upper(), True))
    fmt = compat._memoized_format_code(counting)
    for i in range(compat._FORMAT_CACHE_SIZE + 5):
        assert fmt(f'x{i}') == (f'X{i}', True)
    assert len(fmt.cache) == compat._FORMAT_CACHE_SIZE
    fmt('x0')  # the oldest was dropped: formatted again
    assert counting.calls == compat._FORMAT_CACHE_SIZE + 6


def test_apply_all_is_applied_by_import():
    import mmengine.config.config as config_module
    from mmengine.runner.checkpoint import CheckpointLoader
    assert CheckpointLoader._schemes[''] is compat.load_from_local_safe
    assert hasattr(config_module.FormatCode, '__wrapped_format_code__')
