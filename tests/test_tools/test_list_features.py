"""tools/misc/list_features.py and fdkd_plugin.utils.trace: every module
call with its shapes, which call a config's readers take, and the lines
that record a picked one."""
import re

import pytest
import torch
from torch import nn

from fdkd_helpers import load_script, tiny_cfg_options

from fdkd_plugin.utils.trace import (describe, recorded_calls,
                                        trace_modules)

tool = load_script('tools/misc/list_features.py')
FDKD = 'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py'


class Twice(nn.Module):
    """A ReLU called twice, as in mmpretrain's BasicBlock."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.fc(self.relu(x)) + 1)


def test_trace_counts_calls_in_order_with_shapes():
    net = Twice()
    calls = trace_modules(net, lambda: net(torch.randn(5, 4)))
    assert [(c.path, c.call) for c in calls] == [('relu', 0), ('fc', 0),
                                                 ('relu', 1)]
    assert calls[1].inputs == '[(5, 4)]' and calls[1].output == '(5, 3)'
    assert calls[2].type == 'ReLU' and calls[2].output == '(5, 3)'
    # hooks are removed afterwards
    assert not net.relu._forward_hooks and not net.relu._forward_pre_hooks
    assert describe({'a': (torch.zeros(2), 3)}) == '{a: [(2,), int]}'


def test_recorded_calls_follow_the_readers():
    distiller = dict(
        student_recorders=dict(
            feat=dict(type='mmrazor.ModuleInputs', source='b.relu'),
            logits=dict(type='mmrazor.ModuleOutputs', source='head.fc'),
            spare=dict(type='mmrazor.ModuleOutputs', source='b.conv')),
        teacher_recorders=dict(
            feat=dict(type='mmrazor.ModuleInputs', source='b.relu')),
        student_feat=dict(recorder='feat', record_idx=1),
        loss_forward_mappings=dict(loss_kl=dict(
            preds_S=dict(from_student=True, recorder='logits'),
            preds_T=dict(from_student=False, recorder='feat',
                         record_idx=2))))
    assert recorded_calls(distiller, 'student') == {
        ('b.relu', 1): 'feat (ModuleInputs) -> student_feat',
        ('head.fc', 0): 'logits (ModuleOutputs) -> loss_kl.preds_S',
        ('b.conv', 0): 'spare (ModuleOutputs) -> not read',
    }
    assert recorded_calls(distiller, 'teacher') == {
        ('b.relu', 2): 'feat (ModuleInputs) -> loss_kl.preds_T'
    }
    assert recorded_calls(None, 'student') == {}


def options(data_root):
    return [f'{k}={v}' for k, v in tiny_cfg_options(data_root).items()]


def rows(out: str) -> dict:
    """``{(module, call): [type, input, output, recorded by]}``."""
    table = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 6 and cells[1].isdigit():
            table[(cells[0], int(cells[1]))] = cells[2:]
    return table


@pytest.mark.slow
def test_student_and_teacher_of_the_fdkd_config(tiny_avdigits, capsys):
    assert tool.main([FDKD, '--cfg-options', *options(tiny_avdigits)]) == 0
    out = capsys.readouterr().out
    assert re.search(r'student \(audio\) of .*avdigits-audio-from-visual.py'
                     r': \d+ module calls on a batch of 2, input '
                     r'\(2, 1, \d+, \d+\)', out)
    table = rows(out)
    # the FDKD feature: the second call of the last block's ReLU, pre-act
    kind, inputs, output, by = table[('backbone.layer4.1.relu', 1)]
    assert kind == 'ReLU' and by == ('feat (ModuleInputs) -> student_feat;'
                                     ' feature=auto')
    assert re.fullmatch(r'\[\(2, 256, \d+, \d+\)\]', inputs)
    assert table[('backbone.layer4.1.relu', 0)][3] == ''
    assert table[('head.fc', 0)][1:3] == ['[(2, 256)]', '(2, 10)']

    assert tool.main([
        FDKD, '--side', 'teacher', '--grep', 'layer4.1.relu', '--pick',
        'backbone.layer4.1.relu:1', '--cfg-options', *options(tiny_avdigits)
    ]) == 0
    out = capsys.readouterr().out
    assert 'teacher (visual)' in out and 'input (2, 3, ' in out
    assert set(rows(out)) == {('backbone.layer4.1.relu', 0),
                              ('backbone.layer4.1.relu', 1)}
    assert "teacher_recorders=dict(\n    feat=dict(type='mmrazor." \
        "ModuleInputs', source='backbone.layer4.1.relu'))," in out
    assert "teacher_feat=dict(recorder='feat', record_idx=1, data_idx=0)" \
        in out


def test_a_segmentor_config(tmp_path, capsys):
    """A second architecture: the NYU DeepLabV3+ teacher (RGB), its decoder
    feature before the last activation marked as the config's reader and
    as feature='auto''s pick."""
    nyu = load_script('tests/test_datasets/test_nyu_depth_v2.py')
    root = str(nyu.convert_tiny(tmp_path))
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    opts = [f'{k}.dataset.data_root={root}' for k in loaders]
    opts += [f'{k}.num_workers=0' for k in loaders]
    opts += [f'{k}.persistent_workers=False' for k in loaders]
    opts += ['model.teacher_ckpt=None']
    assert tool.main(['configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-'
                      'from-rgb.py', '--side',
                      'teacher', '--grep', 'sep_bottleneck.1',
                      '--cfg-options', *opts]) == 0
    out = capsys.readouterr().out
    assert 'teacher (rgb)' in out and 'input (2, 3, 48, 64)' in out
    table = rows(out)
    kind, inputs, output, by = table[(
        'decode_head.sep_bottleneck.1.pointwise_conv.activate', 0)]
    assert kind == 'ReLU' and by == ('feat (ModuleInputs) -> teacher_feat;'
                                     ' feature=auto')
    assert re.fullmatch(r'\[\(2, 128, \d+, \d+\)\]', inputs)


@pytest.mark.slow
def test_bad_pick_and_missing_data_are_named(tiny_avdigits, tmp_path):
    with pytest.raises(SystemExit, match=r"'backbone.layer4.1.relu' has no "
                       r'call 2 in the student'):
        tool.main([FDKD, '--pick', 'backbone.layer4.1.relu:2',
                   '--cfg-options', *options(tiny_avdigits)])
    missing = str(tmp_path / 'nothing')
    with pytest.raises(SystemExit, match=rf'data_root={re.escape(missing)}'
                       r'.*make data'):
        tool.main([FDKD, '--cfg-options', *options(missing)])
