"""The baseline configs configs/baselines/{method}/{method}_{arch}_{schedule}_
{dataset}-{direction}.py: ten methods x four data sets x two directions.

- every child exists and is its data set's direction fragment
  (configs/_base_/av/{dataset}_kd.py) plus its method's fragment
  (configs/_base_/baselines/{method}.py), with only the declared data-set
  overrides (half widths on AV-digits);
- each builds its fdkd.CrossModalDistill (no teacher checkpoint) with the
  method's loss, the recorded layers present in both networks, the
  teacher trainable exactly for DML and C2KD, and runs one distillation
  step on random paired inputs (full-width data sets); on VGGSound (k=3
  frames folded into the visual batch) the per-frame visual records of the
  feature methods reach the losses as clip means: with k equal frames the
  losses are those of the single frame, and every record has one row per
  clip;
- the AV-digits children (half width) train two steps in-process on the
  tiny AV-digits set (model, loader and optimizer built as mmengine's
  Runner builds them): finite, positive distill losses; a trainable
  teacher moves, a frozen one does not;
- OFD's teacher margins come from the loaded teacher's BatchNorm (also
  for VGGSound's multi-frame teacher).
"""
import math
import os.path as osp
import shutil
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmpretrain.structures import DataSample
from scipy.stats import norm, truncnorm

from fdkd_helpers import REPO_ROOT, tiny_cfg_options

from fdkd_plugin import experiments

# the ten baselines on the audio-visual data sets (the experiment registry)
METHODS = [m for m in experiments.METHODS if m != 'fdkd']
DATASETS = [
    d for d in experiments.DATASETS
    if experiments.modalities_of(d) == ('audio', 'visual')
]
DIRECTIONS = {d: (s, t) for d, s, t in experiments.directions_of('avdigits')}
SCRATCH_TEACHER = {'dml'}  # DML starts both networks from scratch
# the cells whose distiller a child adapts to its data set (half width)
OVERRIDES = {('ofd', 'avdigits'), ('afd', 'avdigits'), ('c2kd', 'avdigits')}

# the losses each method's base config must put in distill_losses (AFD's
# official recipe adds 0.9 x KD at tau 4 to its feature loss)
LOSS_TYPES = {
    'logit': ['mmrazor.KLDivergence'],
    'dist': ['mmrazor.DISTLoss'],
    'dml': ['fdkd.DMLLoss'],
    'nkd': ['fdkd.NKDLoss'],
    'dkd': ['fdkd.DKDLoss'],
    'feat': ['mmrazor.L2Loss'],
    'pkd': ['mmrazor.PKDLoss'],
    'ofd': ['mmrazor.OFDLoss'] * 4,
    'afd': ['fdkd.AFDLoss', 'mmrazor.KLDivergence'],
    'c2kd': ['fdkd.C2KDLoss'],
}
TRAINABLE = {'dml', 'c2kd'}
# methods whose visual-side records on VGGSound are per frame: with
# fdkd.MultiFrameBackbone the inner ResNet records (N*k, ...), which
# fdkd.CrossModalDistill averages per clip to the other network's (N, ...)
PER_FRAME = {'feat', 'pkd', 'ofd', 'afd', 'c2kd'}

CASES = [(m, d, s) for m in METHODS for d in DATASETS for s in DIRECTIONS]


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """Tiny inputs: threads cost more than they give (and 10x more on a
    busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def case_id(case):
    method, dataset, direction = case
    return f'{method}/{dataset}_{direction}'


def load(case) -> Config:
    """The child's config, its teacher checkpoint checked and then
    dropped (no teacher is trained here)."""
    method, dataset, direction = case
    path = child_path(*case)
    assert osp.isfile(path), f'{path} is missing'
    cfg = Config.fromfile(path)
    # the teacher of that modality, as configs/unimodal/* leaves it
    teacher = DIRECTIONS[direction][1]
    stem = osp.splitext(
        osp.basename(experiments.unimodal_config(dataset, teacher)))[0]
    assert cfg.model.teacher_ckpt == (
        None if method in SCRATCH_TEACHER else
        f'work_dirs/{stem}/selected.pth')
    cfg.model.teacher_ckpt = None
    assert cfg.default_scope == 'fdkd'
    assert cfg.val_cfg.type == 'fdkd.CrossModalValLoop'
    assert cfg.test_cfg.type == 'fdkd.CrossModalTestLoop'
    return cfg


def check_model(cfg: Config, model, case) -> None:
    """What every baseline child must hold, on its built model."""
    method, dataset, direction = case
    student, teacher = DIRECTIONS[direction]
    packed = cfg.train_dataloader.dataset.pipeline[-1]
    assert set(packed.modalities) == {'audio', 'visual'}
    assert (model.student_modality, model.teacher_modality) == (student,
                                                                teacher)
    assert model.teacher_trainable == (method in TRAINABLE)
    assert model.student.data_preprocessor.modality == student
    assert model.teacher.data_preprocessor.modality == teacher
    assert model.student.head.num_classes == cfg.num_classes
    assert model.teacher.head.num_classes == cfg.num_classes
    losses = cfg.model.distiller.distill_losses
    assert [loss.type for loss in losses.values()] == LOSS_TYPES[method]
    # a loss with classes (C2KD's proxies) has the data set's, filled from
    # the student head when the config leaves num_classes=None
    built = next(iter(model.distiller.distill_losses.values()))
    if 'num_classes' in next(iter(losses.values())):
        assert built.num_classes == cfg.num_classes
    # every recorded layer exists in its network
    for side in ('student', 'teacher'):
        names = dict(getattr(model, side).named_modules())
        recorders = getattr(model.distiller, f'{side}_recorders').recorders
        assert recorders, side
        for recorder in recorders.values():
            assert recorder.source in names, (side, recorder.source)


def distill_losses(losses: dict) -> dict:
    out = {
        k: float(v.detach()) if torch.is_tensor(v) else float(v)
        for k, v in losses.items() if k.startswith('distill.')
    }
    assert out, sorted(losses)
    return out


def child_path(method: str, dataset: str, direction: str) -> str:
    return osp.join(REPO_ROOT,
                    experiments.method_config(method, dataset, direction))


def test_every_cell_has_a_child():
    missing = [case_id(c) for c in CASES if not osp.isfile(child_path(*c))]
    assert not missing


@pytest.mark.parametrize('case', CASES, ids=[case_id(c) for c in CASES])
def test_child_is_its_direction_and_its_method(case):
    """model == dict(direction fragment, **method fragment); a child that
    adapts the distiller to its data set changes nothing else, and keeps
    the method's recorders and loss types."""
    method, dataset, direction = case
    kd = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'av', f'{dataset}_kd.py'))
    base = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'baselines', f'{method}.py'))
    want = dict(kd[direction].to_dict(), **base[f'{method}_model'].to_dict())
    got = Config.fromfile(child_path(*case)).model.to_dict()
    if case[:2] not in OVERRIDES:
        assert got == want
        return
    distiller, want_distiller = got.pop('distiller'), want.pop('distiller')
    assert got == want
    assert distiller != want_distiller  # the override does something
    for key in ('type', 'student_recorders', 'teacher_recorders',
                'loss_forward_mappings'):
        assert distiller.get(key) == want_distiller.get(key), key
    assert [v['type'] for v in distiller['distill_losses'].values()] == \
        [v['type'] for v in want_distiller['distill_losses'].values()]


FULL = [c for c in CASES if c[1] != 'avdigits']


@pytest.mark.parametrize('case', FULL, ids=[case_id(c) for c in FULL])
def test_config_builds_and_distills(case):
    cfg = load(case)
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(cfg.model)
    check_model(cfg, model, case)
    # one step on random paired inputs (small: the networks are
    # size-agnostic), in the layouts the pipelines produce
    frames = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'fdkd.LoadFrames'
    ][0].num_frames
    n = 4
    torch.manual_seed(0)
    visual = torch.randn(n, frames, 3, 32, 32) if frames > 1 else \
        torch.randn(n, 3, 32, 32)
    inputs = dict(audio=torch.randn(n, 1, 64, 48), visual=visual)
    samples = [
        DataSample().set_gt_label(i % cfg.num_classes) for i in range(n)
    ]
    model.train()
    with warnings.catch_warnings():
        # OFDLoss broadcasts the student's pooled vector over the map
        warnings.filterwarnings('ignore', 'Using a target size')
        losses = model.loss(inputs, samples)
    for key, value in distill_losses(losses).items():
        assert math.isfinite(value) and value > 0, (key, value)
    assert ('teacher.loss' in losses) == (case[0] in TRAINABLE)
    if case[1] == 'vggsound' and case[0] in PER_FRAME:
        check_frame_means(cfg, model, inputs, samples)


def check_frame_means(cfg: Config, model, inputs: dict,
                      samples: list) -> None:
    """The per-frame visual records are averaged per clip: with k equal
    frames a clip's records are k equal rows, so the losses are those of
    the clip's single frame (4-D input: per-clip records). (Train-mode BN
    sees the same mean and biased variance in a batch of k copies.)"""
    frame = inputs['visual'][:, 0]  # (N, 3, H, W)
    n, k = inputs['visual'].shape[:2]
    same = dict(
        inputs, visual=frame.unsqueeze(1).expand(-1, k, -1, -1, -1))
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Using a target size')
        torch.manual_seed(1)
        per_frame = distill_losses(model.loss(same, samples))
        side = 'student' if model.student_modality == 'visual' else 'teacher'
        for recorder in getattr(model.distiller,
                                f'{side}_recorders').recorders.values():
            for record in recorder.data_buffer:
                for t in (record if isinstance(record, tuple) else
                          (record, )):
                    assert t.shape[0] == n, (recorder.source, t.shape)
        torch.manual_seed(1)
        per_clip = distill_losses(
            model.loss(dict(inputs, visual=frame), samples))
    assert per_frame.keys() == per_clip.keys()
    for key, value in per_frame.items():
        assert value == pytest.approx(per_clip[key], rel=1e-4), key


AVDIGITS = [c for c in CASES if c[1] == 'avdigits']


def snapshot(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.slow
@pytest.mark.parametrize('case', AVDIGITS, ids=[case_id(c) for c in AVDIGITS])
def test_avdigits_config_trains(case, tiny_avdigits):
    cfg = load(case)
    cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits, batch_size=4))
    # the model, loader and optimizer as mmengine's Runner builds them
    # (Runner.from_cfg itself spends ~2 s per config formatting the config
    # for its logs, the whole budget of this test)
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(cfg.model)
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    check_model(cfg, model, case)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    # every group at one lr, no clipping, no weight decay: as the official
    # codes (C2KD's included: one SGD for student, teacher and proxies)
    assert cfg.optim_wrapper.get('clip_grad') is None
    assert cfg.optim_wrapper.optimizer.weight_decay == 0
    base_lr = cfg.optim_wrapper.optimizer.lr
    lrs = {
        id(p): group['lr']
        for group in optim_wrapper.optimizer.param_groups
        for p in group['params']
    }
    assert {lrs[id(p)] for p in model.student.parameters()} == {base_lr}
    assert {lrs[id(p)] for p in model.distiller.parameters()} <= {base_lr}
    assert [lrs[id(p)] for p in model.teacher.parameters()] == \
        pytest.approx([base_lr] * len(list(model.teacher.parameters())))
    teacher0, student0 = snapshot(model.teacher), snapshot(model.student)
    model.train()
    batches = iter(loader)
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', 'Using a target size')
            log_vars = model.train_step(next(batches), optim_wrapper)
        for key, value in distill_losses(log_vars).items():
            assert math.isfinite(value) and value > 0, (key, value)
        assert ('teacher.loss' in log_vars) == (case[0] in TRAINABLE)

    def moved(before, module):
        return [
            k for k, v in snapshot(module).items()
            if v.dtype.is_floating_point and not torch.equal(v, before[k])
        ]

    assert moved(student0, model.student)
    if case[0] in TRAINABLE:
        assert any(
            k.startswith('backbone.') for k in moved(teacher0, model.teacher))
    else:  # parameters and BN statistics: the teacher stays in eval mode
        assert moved(teacher0, model.teacher) == []


def expected_margin(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """E[x | x < 0] for x ~ N(bias, weight^2) per channel (the mean of
    scipy's truncated normal), or -3|weight| where P(x < 0) <= 0.001."""
    out = []
    for s, m in zip(weight.abs().tolist(), bias.tolist()):
        upper = -m / s  # x = 0 in standard units
        if norm.cdf(upper) > 0.001:
            out.append(truncnorm.mean(-math.inf, upper, loc=m, scale=s))
        else:
            out.append(-3 * s)
    return torch.tensor(out, dtype=torch.float32)


@pytest.mark.parametrize('dataset', ['avdigits', 'vggsound'])
def test_ofd_margin_comes_from_the_loaded_teacher(tmp_path, dataset):
    """Also for VGGSound's multi-frame teacher (its records reach the
    connector as clip means)."""
    case = ('ofd', dataset, 'audio_from_visual')
    cfg = load(case)
    with DefaultScope.overwrite_default_scope('fdkd'):
        teacher = MODELS.build(cfg.model.teacher)
    source = cfg.model.distiller.teacher_recorders.stage4.source
    bn = dict(teacher.named_modules())[source]
    assert source.endswith('layer4.1.bn2')
    c = bn.num_features
    torch.manual_seed(0)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(c) + 0.5)
        bn.bias.copy_(torch.randn(c))
        bn.bias[:3] = torch.tensor([4.0, 0.0, -1.0])  # P(x<0) tiny, 1/2, big
        bn.weight[:3] = 1.0
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    cfg.model.teacher_ckpt = ckpt
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(cfg.model)
    margin = model.distiller.connectors['loss_ofd4_tfeat'].margin
    assert margin.shape == (1, c, 1, 1)
    want = expected_margin(bn.weight.detach(), bn.bias.detach())
    torch.testing.assert_close(margin.flatten(), want, rtol=1e-5, atol=1e-5)
    assert margin[0, 0].item() == pytest.approx(-3.0)  # the -3 sigma rule
    # every stage's teacher connector holds the margin of its own BN
    # (the official code distills all four stages)
    names = dict(model.teacher.named_modules())
    for k in (1, 2, 3):
        bn_k = names[cfg.model.distiller.teacher_recorders[f'stage{k}'].source]
        m_k = model.distiller.connectors[f'loss_ofd{k}_tfeat'].margin
        assert m_k.shape == (1, bn_k.num_features, 1, 1)
        torch.testing.assert_close(
            m_k.flatten(),
            expected_margin(bn_k.weight.detach(), bn_k.bias.detach()),
            rtol=1e-5, atol=1e-5)
    weights = [model.distiller.distill_losses[f'loss_ofd{k}'].loss_weight
               for k in (1, 2, 3, 4)]
    assert weights == [0.125, 0.25, 0.5, 1.0]
    assert margin[0, 1].item() == pytest.approx(-math.sqrt(2 / math.pi))
    # the teacher's features are clamped from below at the margin
    t = torch.full((2, c, 1, 1), -100.0)
    clamped = model.distiller.connectors['loss_ofd4_tfeat'](t)
    torch.testing.assert_close(clamped, margin.expand(2, c, 1, 1))


@pytest.mark.parametrize('direction',
                         ['audio-from-visual', 'visual-from-audio'])
def test_afd_ablations_change_one_thing_each(direction):
    """afd-stages_*: the old 4 stage outputs plus the official KD term;
    afd-nokd_*: the official 8 block outputs without it. Each differs from
    the Table 1 AFD cell in that one respect and builds and distills."""
    def model_of(variant):
        path = osp.join(
            REPO_ROOT, 'configs/baselines/afd',
            f'afd{variant}_r18-w32_1xb32-12e_avdigits-{direction}.py')
        return Config.fromfile(path).model

    cell, stages, nokd = (model_of(v) for v in ('', '-stages', '-nokd'))
    for variant in (stages, nokd):
        assert {k: v for k, v in variant.items() if k != 'distiller'} == \
            {k: v for k, v in cell.items() if k != 'distiller'}
    afd = cell.distiller.distill_losses.loss_afd
    # stages: layer1..4 at half width, the same loss otherwise, KD kept
    s = stages.distiller
    assert sorted(s.student_recorders) == [
        'layer1', 'layer2', 'layer3', 'layer4', 'logits'
    ]
    assert s.student_recorders.layer3.source == 'backbone.layer3'
    assert s.distill_losses.loss_afd == dict(
        afd, student_channels=[32, 64, 128, 256],
        teacher_channels=[32, 64, 128, 256])
    assert s.distill_losses.loss_kl == cell.distiller.distill_losses.loss_kl
    assert len(s.loss_forward_mappings.loss_afd) == 8  # 4 a side
    # nokd: the cell's blocks and feature loss, no logits, no KL
    n = nokd.distiller
    assert dict(n.student_recorders, logits=None) == dict(
        cell.distiller.student_recorders, logits=None)
    assert 'logits' not in n.student_recorders
    assert dict(n.distill_losses) == dict(loss_afd=afd)
    assert dict(n.loss_forward_mappings) == dict(
        loss_afd=cell.distiller.loss_forward_mappings.loss_afd)

    torch.manual_seed(0)
    inputs = dict(audio=torch.randn(4, 1, 64, 48),
                  visual=torch.randn(4, 3, 32, 32))
    samples = [DataSample().set_gt_label(i) for i in range(4)]
    for variant, keys in ((stages, {'loss_afd', 'loss_kl'}),
                          (nokd, {'loss_afd'})):
        variant.teacher_ckpt = None
        with DefaultScope.overwrite_default_scope('fdkd'):
            model = MODELS.build(variant).train()
        losses = distill_losses(model.loss(inputs, samples))
        assert {k.rpartition('.')[2] for k in losses} == keys
        assert all(math.isfinite(v) and v > 0 for v in losses.values())
