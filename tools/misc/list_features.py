"""List every module a recorder can name, with the shapes it would record.

Builds the config's model (no checkpoint is loaded: shapes do not depend on
weights), runs one batch of the config's own training data through one
network, and prints each module call in order: its path (a recorder's
``source``), the call index (``record_idx``: a module called twice, like
the ReLU of mmpretrain's BasicBlock, records twice), its input and output
shapes, which recorder of the config records it, and the call that
``feature='auto'`` takes. ``--pick`` prints the config lines that record
one of them.

    python tools/misc/list_features.py \\
        configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py
    python tools/misc/list_features.py CONFIG --side teacher --grep layer4
    python tools/misc/list_features.py CONFIG --pick backbone.layer4.1.relu:1
"""
import argparse
import re
import sys
from typing import List, Optional

import fdkd_plugin  # noqa: F401  (compat fixes before any host import)
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from fdkd_plugin.config_names import config_arg
from fdkd_plugin.models.algorithms.auto_feature import find_feature
from fdkd_plugin.utils.trace import recorded_calls, trace_modules
from fdkd_plugin.registry import MODELS
from fdkd_plugin.utils.runs import markdown_table


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', type=config_arg, help='config file path')
    p.add_argument(
        '--side',
        choices=['student', 'teacher'],
        default='student',
        help='which network of a distillation config (default: student)')
    p.add_argument(
        '--batch-size', type=int, default=2, help='samples in the batch')
    p.add_argument(
        '--grep', help='only module paths matching this regular expression')
    p.add_argument(
        '--pick',
        metavar='PATH[:CALL]',
        help='print the recorder lines for this module (call 0 if none)')
    p.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    return p.parse_args(argv)


def snippet(path: str, call: int, side: str) -> str:
    """Config lines that record the input of ``path`` at call ``call``."""
    return (f"{side}_recorders=dict(\n"
            f"    feat=dict(type='mmrazor.ModuleInputs', "
            f"source='{path}')),\n"
            f"{side}_feat=dict(recorder='feat', record_idx={call}, "
            f"data_idx=0),  # fdkd.FreqDecoupledDistiller\n"
            f"# or, in an MMRazor loss_forward_mappings entry:\n"
            f"# dict(from_student={side == 'student'}, recorder='feat', "
            f"record_idx={call}, data_idx=0)\n"
            f"# (mmrazor.ModuleOutputs with the same source records the "
            f"output instead)")


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'fdkd'))
    model_cfg = cfg.model
    distill = 'architecture' in model_cfg
    if distill:
        model_cfg.teacher_ckpt = None  # shapes only: no weights needed
    model = MODELS.build(model_cfg)
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(
        batch_size=args.batch_size, num_workers=0, persistent_workers=False)
    try:
        batch = next(iter(Runner.build_dataloader(loader_cfg)))
    except Exception as err:  # no data yet: say which and how to make it
        root = cfg.train_dataloader.dataset.get('data_root', '?')
        sys.exit(f'{args.config}: cannot read a training batch from '
                 f'data_root={root} ({type(err).__name__}: {err}); prepare '
                 'the data set first (make data for AV-digits) or point '
                 '--cfg-options train_dataloader.dataset.data_root=... at '
                 'it')
    data = model.data_preprocessor(batch, False)
    if distill:
        network = getattr(model, args.side)
        modality = getattr(model, f'{args.side}_modality')
        inputs = data['inputs'][modality]
        what = f'{args.side} ({modality})'
    else:
        network, inputs, what = model, data['inputs'], 'model'
    calls = trace_modules(
        network,
        lambda: network(inputs, data['data_samples'], mode='tensor'))
    # the recorders as built: feature='auto' resolved to what it records
    recorded = recorded_calls(
        getattr(model, 'distiller_cfg', model_cfg.get('distiller'))
        if distill else None, args.side)
    try:  # what feature='auto' takes on this batch
        auto = find_feature(network, inputs)
    except ValueError:  # not an image classifier / segmentor
        auto = None
    if auto is not None:
        key = (auto.source, auto.record_idx)
        mark = 'feature=auto' + ('' if auto.kind == 'ModuleInputs' else
                                 f' (output[{auto.data_idx}])')
        recorded[key] = f'{recorded[key]}; {mark}' if key in recorded \
            else mark
    pattern = re.compile(args.grep) if args.grep else None
    rows = [['module (source)', 'call (record_idx)', 'type', 'input',
             'output', 'recorded by']]
    for c in calls:
        if pattern and not pattern.search(c.path):
            continue
        rows.append([c.path, str(c.call), c.type, c.inputs, c.output,
                     recorded.get((c.path, c.call), '')])
    print(f'{what} of {args.config}: {len(calls)} module calls on a batch '
          f'of {args.batch_size}, input {tuple(inputs.shape)}')
    print(markdown_table(rows))
    if args.pick:
        path, _, call = args.pick.partition(':')
        call = int(call or 0)
        if not any(c.path == path and c.call == call for c in calls):
            sys.exit(f'--pick {args.pick}: {path!r} has no call {call} in '
                     f'the {what} (see the table)')
        print('\n' + snippet(path, call, args.side))
    return 0


if __name__ == '__main__':
    sys.exit(main())
