"""Per-term gradient shares on the student's distilled feature
(``fdkd_plugin.gradient_shares``, ``fdkd.LossGradientHook``) and the tool
that plots them."""
import copy
import glob
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from fdkd_helpers import REPO_ROOT, load_script, tiny_cfg_options
from fdkd_plugin.engine.loss_gradient_hook import GradientProbe
from fdkd_plugin.gradient_shares import (gradient_shares, loss_terms,
                                         term_gradients)
from fdkd_plugin.registry import DATASETS, HOOKS, MODELS

FDKD = osp.join(REPO_ROOT, 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-'
                           'audio-from-visual.py')
LOGIT = osp.join(REPO_ROOT,
                 'configs/baselines/logit/logit_r18-w32_1xb32-12e_avdigits-'
                 'audio-from-visual.py')


# ---------------------------------------------------------------------------
# the functional core
def test_shares_norms_and_cosines_of_known_gradients():
    x = torch.randn(4, 6, requires_grad=True)
    y = torch.randn(4, 6, requires_grad=True)
    losses = {
        'loss_a': (2 * x).sum(),  # gradient 2 everywhere
        'loss_b': [(x * 1.5).sum(), (x * 1.5).sum()],  # a list: summed, 3
        'loss_away': -(x.sum()),  # gradient -1: against the total
        'loss_other': (y**2).sum(),  # does not reach x
        'accuracy': x.sum(),  # not a loss: not summed by MMEngine either
    }
    terms = loss_terms(losses)
    assert sorted(terms) == ['loss_a', 'loss_away', 'loss_b', 'loss_other']
    result = gradient_shares(term_gradients(terms, x))
    root = math.sqrt(24)
    assert result.norm['loss_a'] == pytest.approx(2 * root)
    assert result.norm['loss_b'] == pytest.approx(3 * root)
    assert result.norm['loss_away'] == pytest.approx(root)
    assert result.norm['loss_other'] == 0.0
    assert result.share == pytest.approx(
        dict(loss_a=2 / 6, loss_b=3 / 6, loss_away=1 / 6, loss_other=0.0))
    assert sum(result.share.values()) == pytest.approx(1.0)
    # total gradient 2 + 3 - 1 = 4 everywhere
    assert result.total_norm == pytest.approx(4 * root)
    assert result.cosine['loss_a'] == pytest.approx(1.0)
    assert result.cosine['loss_away'] == pytest.approx(-1.0)
    assert result.cosine['loss_other'] == 0.0
    assert x.grad is None and y.grad is None  # nothing accumulated


def test_a_feature_outside_the_graph_is_refused():
    x = torch.randn(3)
    with pytest.raises(ValueError, match='does not require grad'):
        term_gradients({'loss': x.sum()}, x)


# ---------------------------------------------------------------------------
# the probe inside CrossModalDistill
def build(path, **distiller):
    cfg = Config.fromfile(path).model
    cfg.teacher_ckpt = None
    cfg.distiller.update(distiller)
    with DefaultScope.overwrite_default_scope('fdkd'):
        return MODELS.build(copy.deepcopy(cfg)).train()


@pytest.fixture(scope='module')
def batch(tiny_avdigits):
    cfg = Config.fromfile(FDKD)
    cfg.merge_from_dict(tiny_cfg_options(tiny_avdigits))
    with DefaultScope.overwrite_default_scope('fdkd'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([dataset[i] for i in range(8)])


def probed_step(model, batch):
    """One training forward with the probe active, then the backward."""
    probe = GradientProbe(dict(model.distiller.student_feat))
    probe.active = True
    model.gradient_probe = probe
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    feat = model.distiller.get_record(
        'feat', True, record_idx=1, data_idx=0)
    total, _ = model.parse_losses(losses)
    reference, = torch.autograd.grad(total, feat, retain_graph=True)
    assert all(p.grad is None for p in model.parameters())
    total.backward()
    return probe.result, reference


def test_fdkd_terms_on_the_student_feature(batch):
    torch.manual_seed(0)
    model = build(FDKD, lambda_low=0.0)
    result, reference = probed_step(model, batch)
    assert set(result.share) == {
        'student.loss', 'distill.loss_low', 'distill.loss_high',
        'distill.loss_align_low_student', 'distill.loss_align_low_teacher',
        'distill.loss_align_high_student', 'distill.loss_align_high_teacher',
        'distill.loss_task_low', 'distill.loss_task_high'
    }
    assert sum(result.share.values()) == pytest.approx(1.0, abs=1e-12)
    # a term switched off (lambda_low = 0) and the teacher side of the
    # shared heads (the frozen teacher's feature only) move nothing
    assert result.share['distill.loss_low'] == 0.0
    assert result.share['distill.loss_align_low_teacher'] == 0.0
    assert result.share['distill.loss_align_high_teacher'] == 0.0
    for term in ('student.loss', 'distill.loss_high',
                 'distill.loss_task_low', 'distill.loss_align_high_student'):
        assert result.norm[term] > 0, term
    # the per-term gradients add up to the optimizer's gradient
    assert result.total_norm == pytest.approx(
        reference.double().norm().item(), rel=1e-5)


def test_the_probe_leaves_the_training_step_unchanged(batch):
    grads = []
    for active in (False, True):
        torch.manual_seed(0)
        model = build(FDKD)
        probe = GradientProbe(dict(model.distiller.student_feat))
        probe.active = active
        model.gradient_probe = probe
        data = model.data_preprocessor(batch, True)
        total, _ = model.parse_losses(model(**data, mode='loss'))
        total.backward()
        grads.append({n: p.grad.clone() for n, p in
                      model.named_parameters() if p.grad is not None})
        assert (probe.result is not None) == active
    assert grads[0].keys() == grads[1].keys()
    assert all(torch.equal(grads[0][k], grads[1][k]) for k in grads[0])


def test_hook_finds_the_feature_of_any_distiller(batch):
    from fdkd_plugin.engine.loss_gradient_hook import _feature_spec
    fdkd = build(FDKD)
    assert _feature_spec(fdkd.distiller, None, 'model') == dict(
        recorder='feat', record_idx=1, data_idx=0)
    logit = build(LOGIT)  # one student recorder: the logits
    spec = _feature_spec(logit.distiller, None, 'model')
    assert spec == dict(recorder=next(iter(
        logit.distiller.student_recorders.recorders)))
    probe = GradientProbe(spec)
    probe.active = True
    logit.gradient_probe = probe
    data = logit.data_preprocessor(batch, True)
    logit(**data, mode='loss')
    assert probe.result.share['distill.loss_kl'] > 0
    assert sum(probe.result.share.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"'nope' is not a student recorder"):
        _feature_spec(fdkd.distiller, dict(recorder='nope'), 'model')
    with pytest.raises(ValueError, match='interval=0 must be a positive'):
        HOOKS.build(dict(type='fdkd.LossGradientHook', interval=0))


# ---------------------------------------------------------------------------
# a tiny run with the hook, then the plot
@pytest.mark.slow
def test_tiny_run_writes_shares_and_the_tool_plots_them(
        tiny_avdigits, tmp_path):
    work = str(tmp_path / 'run')
    opts = tiny_cfg_options(tiny_avdigits)
    opts.update({
        'train_cfg.max_epochs': 1,
        'param_scheduler.0.end': 1,
        'model.teacher_ckpt': None,
        'model.distiller.lambda_low': 0.0,
        'default_hooks.loss_gradients.type': 'fdkd.LossGradientHook',
        'default_hooks.loss_gradients.interval': 2,
    })
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', FDKD, '--work-dir', work,
         '--cfg-options'] + [f'{k}={v}' for k, v in opts.items()],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    with open(osp.join(work, 'loss_gradients.jsonl')) as f:
        rows = [json.loads(line) for line in f]
    # 40 clips, batch 8: 5 iterations; measured at the first and every 2nd
    assert [r['step'] for r in rows] == [1, 2, 4]
    for r in rows:
        assert sum(r['share'].values()) == pytest.approx(1.0, abs=1e-9)
        assert r['share']['distill.loss_low'] == 0.0
        assert r['share']['student.loss'] > 0
        assert r['feature'] == dict(recorder='feat', record_idx=1,
                                    data_idx=0)
    assert 'loss gradient shares at iter 4 on feat' in out
    scalars, = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        scalars = f.read()
    assert 'grad_share/distill.loss_high' in scalars

    tool = load_script('tools/analysis_tools/gradient_shares.py')
    # a kill in the middle of a write leaves a cut-off last line: ignored
    with open(osp.join(work, 'loss_gradients.jsonl'), 'a') as f:
        f.write('{"step": 6, "sha')
    summary = tool.main([work, '--labels', 'lambda_low=0', '--out-dir',
                         str(tmp_path / 'out'), '--no-progress'])
    terms = summary['lambda_low=0']['terms']
    assert summary['lambda_low=0']['measurements'] == 3
    assert terms['distill.loss_low']['mean_share'] == 0.0
    assert sum(t['mean_share'] for t in terms.values()) == pytest.approx(1.0)
    assert terms['student.loss']['mean_share'] == pytest.approx(
        sum(r['share']['student.loss'] for r in rows) / 3)
    for ext in ('png', 'csv', 'json'):
        assert osp.getsize(str(tmp_path / 'out' / f'gradient_shares.{ext}'))
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path), '--out-dir', str(tmp_path / 'out')])
