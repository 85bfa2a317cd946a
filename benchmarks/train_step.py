"""Training-step speed: FDKD against MMRazor's FitNet and against the field's
hand-written PyTorch loop; AMP on against off.

Prints Markdown tables of medians over interleaved repetitions, measured in
one process on one machine:

- ``feat``: one FDKD step over one Feat step (MMRazor ``L2Loss``, FitNet
  style), same networks, weights and batch. Goal <= 1.03.
- ``plain``: our MMEngine step, ``CrossModalDistill.train_step(data,
  optim_wrapper)`` (data preprocessor, recorders, distiller, loss parsing,
  optimizer wrapper), over the same step written as a plain PyTorch loop
  here (the same mmpretrain ResNet-18 modules, the FDKD loss by hand: rfft
  split, standardize, MSE / log-MSE, shared heads, CE, SGD), same weights
  and batch; the two losses are checked to agree first. Goal <= 1.10.
- ``runner``: MMEngine's Runner training on a DataLoader over
  ``data/avdigits`` (the config's pipeline) over the plain loop on a plain
  ``torch.utils.data.DataLoader`` with the same transforms: what the Runner
  adds per iteration (hooks, logging, data samples, the config's collate
  function and data preprocessor). Goal <= 1.05.
- ``amp``: the FDKD step with MMEngine's ``AmpOptimWrapper`` over the fp32
  step, and the dtypes that reach the FFT inside the AMP step.

    python benchmarks/train_step.py
    python benchmarks/train_step.py --device cuda --steps 50
    python benchmarks/train_step.py --parts amp --device cuda
"""
import argparse
import contextlib
import copy
import functools
import math
import os.path as osp
import tempfile
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import fdkd_plugin  # noqa: F401
from common import Timer, interleaved, machine_info, median_ms
from fdkd_plugin.utils.runs import REPO_ROOT, markdown_table

FEAT_CFG = ('configs/baselines/feat/feat_r18-w32_1xb32-12e_'
            'avdigits-audio-from-visual.py')
FDKD_CFG = 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'
PARTS = ('feat', 'plain', 'runner', 'amp')
GOALS = {'feat': 1.03, 'plain': 1.10, 'runner': 1.05}

Batch = dict


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cpu')
    p.add_argument('--parts', nargs='+', default=list(PARTS), choices=PARTS)
    p.add_argument('--steps', type=int, default=20,
                   help='timed steps per variant (feat, plain, amp)')
    p.add_argument('--warmup', type=int, default=3,
                   help='untimed steps per variant first')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--data-root', default='data/avdigits',
                   help='real clips for the batch and the runner part; '
                   'random tensors of the same shapes if absent')
    p.add_argument('--runner-iters', type=int, default=20,
                   help='timed iterations per Runner / plain-loader run')
    p.add_argument('--runner-reps', type=int, default=5,
                   help='Runner / plain-loader runs each, interleaved')
    p.add_argument('--num-workers', type=int, default=1,
                   help='DataLoader workers of the runner part (config: 1)')
    p.add_argument('--amp-dtype', choices=('float16', 'bfloat16'),
                   help="AmpOptimWrapper's dtype; default: MMEngine's "
                   '(float16 on CUDA, bfloat16 on CPU)')
    p.add_argument('--threads', type=int, help='torch.set_num_threads')
    return p.parse_args(argv)


# ---------------------------------------------------------------- building
def load_cfg(path: str):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    cfg.model.teacher_ckpt = None  # random teacher: the speed is the same
    return cfg


def build_model(cfg, device: torch.device) -> nn.Module:
    from mmengine.registry import MODELS, DefaultScope
    with DefaultScope.overwrite_default_scope('fdkd'):
        model = MODELS.build(copy.deepcopy(cfg.model))
    return model.to(device).train()


@contextlib.contextmanager
def _amp_wrapper_on_cpu(device: torch.device):
    """``AmpOptimWrapper`` asserts a GPU when built. On CPU lift that check:
    its CUDA GradScaler then disables itself and what remains is MMEngine's
    ``autocast`` (bfloat16 on CPU), which is what ``--amp`` would do there.
    """
    if device.type != 'cpu':
        yield
        return
    from mmengine.optim.optimizer import amp_optimizer_wrapper as amp
    saved = amp.is_cuda_available
    amp.is_cuda_available = lambda: True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # "CUDA is not available"
            yield
    finally:
        amp.is_cuda_available = saved


def build_wrapper(model: nn.Module, cfg, device: torch.device,
                  amp: bool = False, amp_dtype: Optional[str] = None):
    """The config's optimizer wrapper; ``AmpOptimWrapper`` with ``amp`` (as
    ``tools/train.py --amp`` sets it)."""
    from mmengine.optim import build_optim_wrapper
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if not amp:
        return build_optim_wrapper(model, optim_cfg)
    optim_cfg.type = 'AmpOptimWrapper'
    optim_cfg.loss_scale = 'dynamic'
    if amp_dtype:
        optim_cfg.dtype = amp_dtype
    with _amp_wrapper_on_cpu(device):
        return build_optim_wrapper(model, optim_cfg)


def config_collate(cfg) -> Callable[[list], Batch]:
    """The training loader's collate function, as the Runner builds it
    (MMEngine's ``pseudo_collate`` when the config names none)."""
    from mmengine.registry import FUNCTIONS
    spec = dict(cfg.train_dataloader.get('collate_fn',
                                         dict(type='pseudo_collate')))
    fn = spec.pop('type')
    return functools.partial(
        FUNCTIONS.get(fn) if isinstance(fn, str) else fn, **spec)


def make_batch(cfg, batch_size: int, data_root: str) -> Tuple[Batch, str]:
    """One training batch as the Runner's DataLoader gives it (the config's
    collate function over ``PackMultiModalInputs`` outputs): real clips
    through the config's training pipeline, or random tensors of the same
    shapes without the data."""
    collate = config_collate(cfg)
    root = osp.join(REPO_ROOT, data_root)
    if osp.isfile(osp.join(root, 'train.csv')):
        from mmengine.registry import DATASETS, DefaultScope
        ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
        ds_cfg.update(data_root=root, indices=batch_size)
        with DefaultScope.overwrite_default_scope('fdkd'):
            dataset = DATASETS.build(ds_cfg)
        np.random.seed(0)
        samples = [dataset[i] for i in range(len(dataset))]
        if len(samples) < batch_size:
            raise ValueError(f'{data_root} has {len(samples)} training clips,'
                             f' fewer than --batch-size={batch_size}')
        return collate(samples), f'{batch_size} AV-digits clips'
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(0)
    samples = [
        dict(
            inputs=dict(
                audio=torch.randn(1, 129, 63, generator=gen),
                visual=torch.randn(3, 32, 32, generator=gen)),
            data_samples=DataSample().set_gt_label(
                int(torch.randint(0, 10, (1, ), generator=gen))))
        for _ in range(batch_size)
    ]
    return collate(samples), f'{batch_size} random inputs'


def step_runs(models: Dict[str, nn.Module], wrappers: Dict[str, object],
              batch: Batch, device: torch.device) -> Dict[str, object]:
    """A timed ``train_step`` per model (seconds)."""

    def make(name):

        def run() -> float:
            with Timer(device) as t:
                models[name].train_step(batch, wrappers[name])
            return t.seconds

        return run

    return {name: make(name) for name in models}


def ratio_table(title: str, rows: List[Tuple[str, List[float]]],
                ratio_label: str, goal: Optional[float] = None) -> str:
    """Median and minimum ms of each row; the ratios of the last row to the
    first (of the medians, with the goal, and of the minima)."""
    meds = [median_ms(times) for _, times in rows]
    table = [(title, 'median ms', 'min ms')]
    table += [(label, f'{m:.1f}', f'{min(times) * 1e3:.1f}')
              for (label, times), m in zip(rows, meds)]
    ratio = meds[-1] / meds[0]
    # the ratio of the minima is less sensitive to a loaded machine
    min_ratio = min(rows[-1][1]) / min(rows[0][1])
    verdict = '' if goal is None else \
        f' (goal <= {goal:.2f}: {"met" if ratio <= goal else "NOT met"})'
    table.append((ratio_label, f'{ratio:.3f}{verdict}', f'{min_ratio:.3f}'))
    return markdown_table(table)


# ----------------------------------------------------- (a) FDKD over Feat
def step_time_ratio(device: str = 'cpu',
                    steps: int = 20,
                    warmup: int = 3,
                    batch_size: int = 32,
                    data_root: str = 'data/avdigits',
                    machine: bool = False) -> str:
    """Median time of one FDKD training step over one Feat (MMRazor
    ``L2Loss``) step: same student, teacher, initial weights and batch.

    Args:
        machine (bool): Start with the machine line (for a caller that
            prints no other).

    Returns:
        str: a Markdown table (and a line on how it was measured).
    """
    dev = torch.device(device)
    cfgs = {'Feat': load_cfg(FEAT_CFG), 'FDKD': load_cfg(FDKD_CFG)}
    torch.manual_seed(0)
    models = {name: build_model(cfg, dev) for name, cfg in cfgs.items()}
    models['FDKD'].student.load_state_dict(models['Feat'].student.state_dict())
    models['FDKD'].teacher.load_state_dict(models['Feat'].teacher.state_dict())
    wrappers = {
        name: build_wrapper(models[name], cfg, dev)
        for name, cfg in cfgs.items()
    }
    batch, source = make_batch(cfgs['FDKD'], batch_size, data_root)
    times = interleaved(step_runs(models, wrappers, batch, dev), steps,
                        warmup)
    terms = interleaved(loss_terms_runs(models, batch, dev), 10 * steps,
                        warmup)
    extra = (median_ms(terms['FDKD']) - median_ms(terms['Feat'])) / \
        median_ms(times['Feat'])
    head = machine_info(dev) + '\n\n' if machine else ''
    return head + (
        f'FDKD / Feat: one `train_step` each, {source}, audio student, '
        f'visual teacher, {steps} interleaved steps after {warmup} '
        'warm-up\n\n' + ratio_table(
            'Step', [('Feat (mmrazor.L2Loss)', times['Feat']),
                     ('FDKD', times['FDKD'])], 'FDKD / Feat', GOALS['feat']) +
        f'\n\nThe loss terms alone (forward and backward from the recorded '
        f'features, {10 * steps} interleaved runs): Feat '
        f'{median_ms(terms["Feat"]):.2f} ms, FDKD '
        f'{median_ms(terms["FDKD"]):.2f} ms, the difference '
        f'{100 * extra:.1f} % of the Feat step: the FDKD / Feat ratio '
        'without the networks\' noise is about '
        f'{1 + extra:.3f}.')


def _detached(record, grad: bool):
    """A recorded value (tensor or tuple of them) cut from its graph."""
    if isinstance(record, torch.Tensor):
        return record.detach().clone().requires_grad_(grad)
    if isinstance(record, (tuple, list)):
        return type(record)(_detached(r, grad) for r in record)
    return record


def loss_terms_runs(models: Dict[str, nn.Module], batch: Batch,
                    device: torch.device) -> Dict[str, object]:
    """A timed forward and backward of each distiller's loss terms alone,
    on the features its recorders hold from the last step (cut from the
    networks, the student's requiring grad): what a method adds to the
    step, without the networks' share of the noise."""
    labels = torch.cat([s.gt_label for s in batch['data_samples']]).to(device)

    def make(name):
        model = models[name]
        distiller = model.distiller
        kept = [(rec, list(rec.data_buffer), grad)
                for grad, manager in ((True, distiller.student_recorders),
                                      (False, distiller.teacher_recorders))
                for rec in manager.recorders.values()]

        def run() -> float:
            for rec, records, grad in kept:  # fresh leaves each run
                rec._data_buffer = [_detached(r, grad) for r in records]
            with Timer(device) as t:
                losses = (distiller.compute_distill_losses(gt_label=labels)
                          if model._distiller_takes_labels else
                          distiller.compute_distill_losses())
                sum(losses.values()).backward()
            return t.seconds

        return run

    return {name: make(name) for name in models}


# ------------------------------------------- (b) the field's plain loop
class PlainResNet(nn.Module):
    """A ResNet-18 classifier as a hand-written loop uses it: the backbone's
    modules called directly, returning the pooled pre-ReLU output of the
    last block (the distilled feature) and the logits."""

    def __init__(self, backbone: Dict, num_classes: int, width: int) -> None:
        super().__init__()
        from mmpretrain.models import ResNet
        args = {k: v for k, v in backbone.items() if k != 'type'}
        self.backbone = ResNet(**args)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        bb = self.backbone
        x = bb.maxpool(bb.relu(bb.norm1(bb.conv1(x))))
        layers = [getattr(bb, name) for name in bb.res_layers]
        for layer in layers[:-1]:
            x = layer(x)
        *blocks, last = list(layers[-1])
        for block in blocks:
            x = block(x)
        identity = x if last.downsample is None else last.downsample(x)
        out = last.norm2(last.conv2(last.relu(last.norm1(last.conv1(x)))))
        pre = out + identity  # (N, C, H, W), before the block's final ReLU
        feat = pre.mean((2, 3))  # (N, C)
        logits = self.fc(F.relu(pre).mean((2, 3)))  # (N, classes)
        return feat, logits


class PlainFDKDLoss(nn.Module):
    """Paper Eq. 1-11 by hand, as a training script would write it, for
    pooled ``(N, D)`` features with cut-off 0.5 and the DC bin dropped."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        k = int(math.floor(0.5 * (dim // 2) + 0.5))  # last low-band bin
        bins = torch.arange(dim // 2 + 1)
        self.register_buffer('low_mask', ((bins >= 1) & (bins <= k)).float())
        self.register_buffer('high_mask', (bins > k).float())
        self.align_low = nn.Linear(dim, num_classes)
        self.align_high = nn.Linear(dim, num_classes)
        self.task_low = nn.Linear(dim, num_classes)
        self.task_high = nn.Linear(dim, num_classes)

    @staticmethod
    def std(x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(1, keepdim=True)
        return x / x.norm(dim=1, keepdim=True).clamp_min(1e-8)

    @staticmethod
    def slog(x: torch.Tensor) -> torch.Tensor:
        return torch.sign(x) * torch.log1p(x.abs())

    def forward(self, fs: torch.Tensor, ft: torch.Tensor,
                y: torch.Tensor) -> torch.Tensor:
        n, d = fs.shape
        spec = torch.fft.rfft(torch.cat([fs, ft]), dim=1)  # (2N, D//2+1)
        low = torch.fft.irfft(spec * self.low_mask, n=d, dim=1)  # (2N, D)
        high = torch.fft.irfft(spec * self.high_mask, n=d, dim=1)
        loss = F.mse_loss(self.std(low[:n]), self.std(low[n:]))
        loss = loss + F.mse_loss(
            self.slog(self.std(high[:n])), self.slog(self.std(high[n:])))
        for feat, align, task in ((low, self.align_low, self.task_low),
                                  (high, self.align_high, self.task_high)):
            loss = loss + F.cross_entropy(align(F.relu(feat[:n])), y)
            loss = loss + F.cross_entropy(align(F.relu(feat[n:])), y)
            loss = loss + F.cross_entropy(task(F.relu(feat[:n])), y)
        return loss


class PlainFDKD:
    """The field's loop: student, frozen teacher, hand-written FDKD loss,
    ``torch.optim.SGD`` with the config's settings."""

    def __init__(self, cfg, device: torch.device) -> None:
        arch, teacher = cfg.model.architecture, cfg.model.teacher
        width = teacher.head.in_channels  # the feature auto records
        classes = cfg.model.distiller.num_classes
        self.device = device
        self.student = PlainResNet(arch.backbone, classes, width).to(device)
        self.teacher = PlainResNet(teacher.backbone, classes, width)
        self.teacher = self.teacher.to(device).eval().requires_grad_(False)
        self.loss = PlainFDKDLoss(width, classes).to(device)
        # the frames arrive as uint8, as the config's pipeline gives them;
        # the loop normalizes them on the device, as our pre-processor does
        norm = teacher.data_preprocessor.norm_cfg.visual
        self.mean = torch.tensor(norm.mean).view(3, 1, 1).to(device)
        self.std = torch.tensor(norm.std).view(3, 1, 1).to(device)
        opt = cfg.optim_wrapper.optimizer
        params = list(self.student.parameters()) + list(
            self.loss.parameters())
        self.opt = torch.optim.SGD(
            params,
            lr=opt.lr,
            momentum=opt.momentum,
            weight_decay=opt.weight_decay)

    def copy_weights_from(self, model: nn.Module) -> None:
        """Take the weights of a built ``CrossModalDistill``."""
        for mine, theirs in ((self.student, model.student),
                             (self.teacher, model.teacher)):
            mine.backbone.load_state_dict(theirs.backbone.state_dict())
            mine.fc.load_state_dict(theirs.head.fc.state_dict())
        d = model.distiller
        for band in ('low', 'high'):
            getattr(self.loss, f'align_{band}').load_state_dict(
                d.align_heads[band].fc.state_dict())
            getattr(self.loss, f'task_{band}').load_state_dict(
                d.task_heads[band].fc.state_dict())

    def frames(self, visual: torch.Tensor) -> torch.Tensor:
        """uint8 frames ``(N, 3, H, W)`` (or ``(N, H, W, 3)`` straight
        from the transforms) to the normalized float32 the network takes."""
        if visual.dtype != torch.uint8:
            return visual  # random inputs, already float
        if visual.shape[-1] == 3 and visual.shape[1] != 3:
            visual = visual.permute(0, 3, 1, 2)
        return (visual.float() - self.mean) / self.std

    def total_loss(self, audio, visual, y) -> torch.Tensor:
        with torch.no_grad():
            ft, _ = self.teacher(self.frames(visual))
        fs, logits = self.student(audio)
        return F.cross_entropy(logits, y) + self.loss(fs, ft, y)

    def step(self, audio, visual, y) -> float:
        audio = audio.to(self.device, non_blocking=True)
        visual = visual.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        loss = self.total_loss(audio, visual, y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()  # the loop logs its loss


def stacked(batch: Batch) -> Tuple[torch.Tensor, ...]:
    """The batch as torch's ``default_collate`` gives it to a plain loop."""
    labels = torch.cat([s.gt_label for s in batch['data_samples']])
    inputs = batch['inputs']
    return tuple(
        v if isinstance(v, torch.Tensor) else torch.stack(v)
        for v in (inputs['audio'], inputs['visual'])) + (labels, )


def ours_vs_plain(device: str = 'cpu',
                  steps: int = 20,
                  warmup: int = 3,
                  batch_size: int = 32,
                  data_root: str = 'data/avdigits') -> str:
    """Our MMEngine ``train_step`` over the plain PyTorch step."""
    dev = torch.device(device)
    cfg = load_cfg(FDKD_CFG)
    torch.manual_seed(0)
    model = build_model(cfg, dev)
    wrapper = build_wrapper(model, cfg, dev)
    plain = PlainFDKD(cfg, dev)
    plain.copy_weights_from(model)
    batch, source = make_batch(cfg, batch_size, data_root)
    audio, visual, y = stacked(batch)

    # same computation: the two total losses agree before any step
    with torch.no_grad():
        data = model.data_preprocessor(batch, True)
        ours_loss, _ = model.parse_losses(model(**data, mode='loss'))
        plain_loss = plain.total_loss(audio.to(dev), visual.to(dev),
                                      y.to(dev))
    diff = abs(float(ours_loss) - float(plain_loss))
    agree = 'they agree' if diff <= 1e-4 else 'they DIFFER'
    inplace = sorted({
        type(m).__name__
        for m in model.modules() if getattr(m, 'inplace', False)
    })
    if diff > 1e-4 and inplace:
        # MMRazor's set_module_inplace_false walks OrderedDicts, but
        # Module._modules is a plain dict in today's torch: it switches
        # nothing, and ReLU(inplace=True) overwrites what the recorders hold
        agree += (f': the built model still has inplace=True modules '
                  f'({", ".join(inplace)}), so its recorders hold the '
                  'post-ReLU feature; the plain loop distills the pre-ReLU '
                  'one (paper A.3)')

    def run_ours() -> float:
        with Timer(dev) as t:
            model.train_step(batch, wrapper)
        return t.seconds

    def run_plain() -> float:
        with Timer(dev) as t:
            plain.step(audio, visual, y)
        return t.seconds

    times = interleaved({'plain': run_plain, 'ours': run_ours}, steps,
                        warmup)
    return (f'MMEngine step / plain PyTorch step, {source}, {steps} '
            f'interleaved steps after {warmup} warm-up. Total loss before '
            f'the first step: ours {float(ours_loss):.6f}, plain '
            f'{float(plain_loss):.6f}, difference {diff:.1e}: {agree}\n\n'
            + ratio_table(
                'Step', [('plain PyTorch loop', times['plain']),
                         ('CrossModalDistill.train_step', times['ours'])],
                'MMEngine / plain', GOALS['plain']))


# ------------------------------------------- (b') Runner over a DataLoader
class _Tuples(torch.utils.data.Dataset):
    """The data set as a plain loop reads it: ``(audio, visual, label)``."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        r = self.dataset[i]
        return r['audio'], r['visual'], r['gt_label']


def runner_vs_plain_loader(device: str, iters: int, reps: int, warmup: int,
                           batch_size: int, data_root: str,
                           num_workers: int) -> str:
    """Seconds per iteration of MMEngine's Runner (EpochBasedTrainLoop, the
    config's hooks, DataLoader over the config's pipeline) and of the plain
    loop over a plain DataLoader with the same transforms."""
    from mmengine.hooks import Hook
    from mmengine.registry import DATASETS, DefaultScope
    from mmengine.runner import Runner

    dev = torch.device(device)
    root = osp.join(REPO_ROOT, data_root)
    if not osp.isfile(osp.join(root, 'train.csv')):
        return f'Runner loop: skipped, {data_root}/train.csv not found ' \
            '(`make data`)'
    if warmup < 1:
        raise ValueError(f'warmup={warmup} must be >= 1 for the runner part')
    if dev.type == 'cpu' and torch.cuda.is_available():
        return ('Runner loop: skipped, the Runner trains on the GPU of this '
                'machine; run with --device cuda')
    total = warmup + iters

    class IterClock(Hook):
        priority = 'LOWEST'

        def __init__(self) -> None:
            self.stamps: List[float] = []

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None) -> None:
            if dev.type == 'cuda':
                torch.cuda.synchronize()
            self.stamps.append(time.perf_counter())

    def per_iter(stamps: List[float]) -> float:
        return (stamps[-1] - stamps[warmup - 1]) / iters

    def runner_cfg(work_dir: str):
        cfg = load_cfg(FDKD_CFG)
        loader = cfg.train_dataloader
        loader.update(batch_size=batch_size, num_workers=num_workers,
                      persistent_workers=False)
        loader.dataset.update(data_root=root, indices=batch_size * total)
        cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=10)
        for split in ('val', 'test'):
            cfg[f'{split}_dataloader'] = None
            cfg[f'{split}_cfg'] = None
            cfg[f'{split}_evaluator'] = None
        cfg.default_hooks.checkpoint = None  # no file writes in the timing
        cfg.custom_hooks = []
        cfg.work_dir = work_dir
        cfg.log_level = 'WARNING'
        cfg.launcher = 'none'
        return cfg

    def run_runner() -> float:
        with tempfile.TemporaryDirectory() as work_dir:
            runner = Runner.from_cfg(runner_cfg(work_dir))
            clock = IterClock()
            runner.register_hook(clock, priority='LOWEST')
            runner.train()
        return per_iter(clock.stamps)

    cfg = load_cfg(FDKD_CFG)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.update(
        data_root=root,
        indices=batch_size * total,
        pipeline=ds_cfg.pipeline[:-1])  # the transforms, no MMEngine packing
    with DefaultScope.overwrite_default_scope('fdkd'):
        plain_set = _Tuples(DATASETS.build(ds_cfg))
    plain = PlainFDKD(cfg, dev)

    def run_plain() -> float:
        loader = torch.utils.data.DataLoader(
            plain_set,
            batch_size=batch_size,
            shuffle=True,
            num_workers=num_workers,
            pin_memory=dev.type == 'cuda')
        stamps = []
        for audio, visual, y in loader:
            plain.step(audio, visual, y)
            if dev.type == 'cuda':
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())
        return per_iter(stamps)

    times = interleaved({'plain': run_plain, 'runner': run_runner}, reps,
                        warmup=0)
    return (f'Runner loop / plain loop over a DataLoader of {data_root}: '
            f'batch {batch_size}, {num_workers} worker(s), {iters} timed '
            f'iterations after {warmup} per run, {reps} runs each, '
            'interleaved; ms per iteration\n\n' + ratio_table(
                'Iteration', [('plain loop, torch DataLoader', times['plain']),
                              ('MMEngine Runner', times['runner'])],
                'Runner / plain', GOALS['runner']))


# ------------------------------------------------------------ (c) AMP
def _record_dtypes(model: nn.Module, wrapper, batch: Batch) -> Dict:
    """One AMP ``train_step`` with the FFT calls and the frequency split
    watched: the dtypes going in and out, and the logged losses."""
    import fdkd_plugin.models.distillers.freq_decoupled_distiller as fdd
    seen: Dict[str, list] = {'fft': [], 'split': []}
    saved_fft = {
        name: getattr(torch.fft, name)
        for name in ('rfft', 'irfft', 'rfft2', 'irfft2')
    }
    saved_split = fdd.frequency_split

    def watch_fft(name):

        def wrapped(x, *args, **kwargs):
            out = saved_fft[name](x, *args, **kwargs)
            seen['fft'].append((name, x.dtype, out.dtype))
            return out

        return wrapped

    def watch_split(x, *args, **kwargs):
        parts = saved_split(x, *args, **kwargs)
        with torch.no_grad():
            recon = (parts.low.float() + parts.high.float() +
                     parts.dc.float() - x.float()).abs().max()
            scale = x.float().abs().max().clamp_min(1e-12)
        seen['split'].append(
            (x.dtype, parts.low.dtype, float(recon / scale)))
        return parts

    try:
        for name in saved_fft:
            setattr(torch.fft, name, watch_fft(name))
        fdd.frequency_split = watch_split
        log_vars = model.train_step(batch, wrapper)
    finally:
        for name, fn in saved_fft.items():
            setattr(torch.fft, name, fn)
        fdd.frequency_split = saved_split
    seen['losses'] = {
        k: float(v.detach() if torch.is_tensor(v) else v)
        for k, v in log_vars.items()
    }
    return seen


def amp_on_off(device: str = 'cpu',
               steps: int = 20,
               warmup: int = 3,
               batch_size: int = 32,
               data_root: str = 'data/avdigits',
               amp_dtype: Optional[str] = None) -> str:
    """The FDKD step with ``AmpOptimWrapper`` over the fp32 step, and what
    the FFT sees inside the AMP step."""
    dev = torch.device(device)
    cfg = load_cfg(FDKD_CFG)
    torch.manual_seed(0)
    models = {'fp32': build_model(cfg, dev), 'amp': build_model(cfg, dev)}
    models['amp'].load_state_dict(models['fp32'].state_dict())
    wrappers = {
        'fp32': build_wrapper(models['fp32'], cfg, dev),
        'amp': build_wrapper(models['amp'], cfg, dev, True, amp_dtype),
    }
    batch, source = make_batch(cfg, batch_size, data_root)
    seen = _record_dtypes(models['amp'], wrappers['amp'], batch)
    times = interleaved(step_runs(models, wrappers, batch, dev), steps,
                        warmup)
    cast = wrappers['amp'].cast_dtype or (
        torch.get_autocast_dtype(dev.type)
        if dev.type == 'cuda' else torch.bfloat16)
    lines = [
        f'AMP on / off: FDKD `train_step`, {source}, {steps} interleaved '
        f'steps after {warmup} warm-up; AMP = AmpOptimWrapper, autocast '
        f'{str(cast).replace("torch.", "")}' +
        (' (on CPU: MMEngine autocast with the GradScaler disabled)'
         if dev.type == 'cpu' else ''), '',
        ratio_table('Step', [('fp32 (OptimWrapper)', times['fp32']),
                             ('AMP (AmpOptimWrapper)', times['amp'])],
                    'AMP / fp32'), '', 'Inside one AMP step:', ''
    ]
    ffts = sorted({f'`torch.fft.{n}` on {str(i).replace("torch.", "")} -> '
                   f'{str(o).replace("torch.", "")}'
                   for n, i, o in seen['fft']})
    lines.append('- FFT calls: ' + ('; '.join(ffts) or 'none'))
    for x_dtype, out_dtype, rel in seen['split']:
        ok = out_dtype == torch.float32
        lines.append(
            f'- `frequency_split`: input {str(x_dtype)[6:]}, output '
            f'{str(out_dtype)[6:]} ({"float32 as required" if ok else "NOT float32: see tests/test_models/test_amp.py"}'  # noqa: E501
            f'), max |low + high + dc - x| / max |x| = {rel:.1e}')
    bad = [k for k, v in seen['losses'].items() if not math.isfinite(v)]
    lines.append('- logged losses finite: ' +
                 ('yes' if not bad else f'NO ({", ".join(bad)})'))
    return '\n'.join(lines)


# ------------------------------------------------------------------- main
def main(argv: Optional[List[str]] = None) -> str:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    common = dict(
        device=args.device,
        steps=args.steps,
        warmup=args.warmup,
        batch_size=args.batch_size,
        data_root=args.data_root)
    parts = [f'# Training-step benchmark\n\n{machine_info(dev)}']
    for part in args.parts:
        print(f'[train_step] {part} ...', flush=True)
        if part == 'feat':
            parts.append(step_time_ratio(**common))
        elif part == 'plain':
            parts.append(ours_vs_plain(**common))
        elif part == 'runner':
            parts.append(
                runner_vs_plain_loader(args.device, args.runner_iters,
                                       args.runner_reps, args.warmup,
                                       args.batch_size, args.data_root,
                                       args.num_workers))
        else:
            parts.append(amp_on_off(amp_dtype=args.amp_dtype, **common))
        print('\n' + parts[-1] + '\n', flush=True)
    text = '\n\n'.join(parts)
    print('\n' + text)
    return text


if __name__ == '__main__':
    main()
