"""Tests of the SharedHead connector (Phi_l / Phi_h of Eq. 10)."""
import re

import pytest
import torch
from torch import nn

from fdkd_plugin.models.connectors import SharedHead
from fdkd_plugin.registry import MODELS


def test_one_linear_for_both_sides():
    head = SharedHead(in_channels=8, num_classes=3)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    assert linears == [head.fc] and len(head.projections) == 0
    torch.manual_seed(0)
    x = torch.randn(4, 8)
    torch.testing.assert_close(head(x, 'student'), head(x, 'teacher'))
    # Hand value: logits = W relu(x) + b.
    torch.testing.assert_close(
        head(x),
        x.relu() @ head.fc.weight.T + head.fc.bias)


def test_projection_shapes():
    head = SharedHead(
        in_channels=256,
        num_classes=5,
        student_channels=768,
        teacher_channels=1280)
    assert set(head.projections) == {'student', 'teacher'}
    s, t = torch.randn(4, 768), torch.randn(4, 1280)
    assert head.project(s, 'student').shape == (4, 256)
    assert head.project(t, 'teacher').shape == (4, 256)
    assert head(s, 'student').shape == head(t, 'teacher').shape == (4, 5)
    assert head.projections['student'].weight.shape == (256, 768)

    mlp = SharedHead(256, 5, student_channels=768, projection='mlp')
    assert set(mlp.projections) == {'student'}  # teacher already 256 wide
    kinds = [type(m) for m in mlp.projections['student']]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert mlp.project(s, 'student').shape == (4, 256)
    assert mlp(torch.randn(4, 256), 'teacher').shape == (4, 5)


def test_same_width_given_means_no_projection():
    head = SharedHead(16, 2, student_channels=16, teacher_channels=16)
    assert len(head.projections) == 0


def test_gradients_reach_shared_fc_from_both_sides():
    torch.manual_seed(0)
    head = SharedHead(8, 3, student_channels=12)
    s, t = torch.randn(4, 12), torch.randn(4, 8).abs()
    head(s, 'student').sum().backward()
    g_student = head.fc.weight.grad.clone()
    assert g_student.abs().sum() > 0
    assert head.projections['student'].weight.grad.abs().sum() > 0
    head.zero_grad()
    head(t, 'teacher').sum().backward()
    # d(sum logits)/dW = 1 relu(t)^T summed over the batch: by hand.
    torch.testing.assert_close(head.fc.weight.grad,
                               t.relu().sum(0).expand(3, 8))
    assert head.projections['student'].weight.grad is None  # set_to_none


def test_maps_are_average_pooled():
    torch.manual_seed(0)
    head = SharedHead(6, 2)
    x = torch.randn(2, 6, 4, 5)
    torch.testing.assert_close(head(x), head(x.mean((2, 3))))


def test_relu_effect():
    head = SharedHead(4, 3)
    neg = -torch.rand(2, 4) - 0.1
    # Negative features are zeroed by the ReLU: logits = bias.
    torch.testing.assert_close(head(neg), head.fc.bias.expand(2, 3))
    no_act = SharedHead(4, 3, act=None)
    no_act.load_state_dict(head.state_dict())
    torch.testing.assert_close(
        no_act(neg), neg @ head.fc.weight.T + head.fc.bias)
    assert not torch.allclose(no_act(neg), head(neg))


def test_dropout_option():
    torch.manual_seed(0)
    head = SharedHead(64, 2, act=None, dropout=0.5)
    x = torch.ones(1, 64)
    head.train()
    assert not torch.allclose(head(x), head(x))  # random masks differ
    head.eval()
    torch.testing.assert_close(head(x), head(x))


def test_width_mismatch_message():
    head = SharedHead(256, 5)
    msg = re.escape('SharedHead got a student feature of shape (4, 768), '
                    'expected (N, 256)') + r'.*set student_channels=768'
    with pytest.raises(ValueError, match=msg):
        head(torch.zeros(4, 768), 'student')
    head = SharedHead(256, 5, student_channels=768)
    with pytest.raises(
            ValueError,
            match=r'teacher feature of shape '
            r'\(4, 1280\).*set teacher_channels=1280'):
        head(torch.zeros(4, 1280), 'teacher')
    with pytest.raises(ValueError, match=r'shape \(4, 3, 768\)'):
        head(torch.zeros(4, 3, 768), 'student')


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"side='both' must be one of"):
        SharedHead(8, 2)(torch.zeros(1, 8), 'both')
    with pytest.raises(ValueError, match=r"projection='conv' must be one of"):
        SharedHead(8, 2, student_channels=4, projection='conv')
    with pytest.raises(ValueError, match=r"act='gelu' must be one of"):
        SharedHead(8, 2, act='gelu')
    with pytest.raises(ValueError, match=r'dropout=1.0 must be in \[0, 1\)'):
        SharedHead(8, 2, dropout=1.0)
    with pytest.raises(ValueError, match=r'in_channels=0 must be a positive'):
        SharedHead(0, 2)
    with pytest.raises(
            ValueError, match=r'teacher_channels=-3 must be a positive'):
        SharedHead(8, 2, teacher_channels=-3)


def test_registered_and_init_cfg():
    head = MODELS.build(
        dict(
            type='SharedHead',
            in_channels=8,
            num_classes=2,
            init_cfg=dict(type='Constant', layer='Linear', val=0.5, bias=0)))
    assert isinstance(head, SharedHead)
    head.init_weights()
    assert torch.all(head.fc.weight == 0.5) and torch.all(head.fc.bias == 0)
