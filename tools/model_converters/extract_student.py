"""Turn a distillation checkpoint into a plain checkpoint of the student.

The result holds only the student's weights (``architecture.*`` with the
prefix removed), so ``tools/test.py`` evaluates it with the student's
unimodal config, and MMPretrain / MMSegmentation load it like any of their
own checkpoints (it loads under ``torch.load(weights_only=True)``)::

    W=work_dirs/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual
    python tools/model_converters/extract_student.py $W/selected.pth \\
        work_dirs/avdigits_audio_fdkd.pth
    python tools/test.py \\
        configs/unimodal/r18-w32_1xb32-12e_avdigits-audio.py \\
        work_dirs/avdigits_audio_fdkd.pth

``--part teacher`` extracts the teacher instead (useful when it was trained
too, as in DML or C2KD). A checkpoint of
``fdkd.BidirectionalCrossModalDistill`` holds one student per direction:
``--student a_from_v`` (or ``v_from_a``) picks one (its weights are
``directions.a_from_v.architecture.*``).

The source is read with ``torch.load(weights_only=True)`` and the MMEngine
types its checkpoints hold allow-listed
(:func:`fdkd_plugin.utils.checkpoint.safe_load`): a checkpoint that needs
anything else is refused, naming the global, unless ``--unsafe-load`` is
given (only for a checkpoint you trust).
"""
import argparse
import os
import os.path as osp
from collections import OrderedDict
from typing import List, Optional

import torch

from fdkd_plugin.utils.checkpoint import (UNSAFE_LOAD_FLAG,
                                          UnsafePickleError, safe_load)

PREFIXES = {'student': 'architecture.', 'teacher': 'teacher.'}


def directions_of(state: dict) -> List[str]:
    """Direction names of a bidirectional checkpoint (else empty)."""
    return sorted({
        k.split('.')[1]
        for k in state if k.startswith('directions.') and k.count('.') > 1
    })


def extract(checkpoint: dict,
            part: str = 'student',
            student: Optional[str] = None) -> OrderedDict:
    """The ``part``'s weights of a distillation ``checkpoint``, unprefixed.

    Args:
        checkpoint (dict): The loaded checkpoint.
        part (str): ``'student'`` or ``'teacher'``.
        student (str, optional): The direction of a bidirectional checkpoint
            (``'a_from_v'``); required there, refused elsewhere.

    Raises:
        KeyError: if the checkpoint has no ``state_dict`` or no key of
            ``part`` (not a distillation checkpoint), or ``student`` does
            not match the checkpoint's directions.
    """
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        raise KeyError('checkpoint has no state_dict')
    directions = directions_of(state)
    if directions and student not in directions:
        given = 'no --student' if student is None else \
            f'--student {student}'
        raise KeyError(f'{given}: this bidirectional checkpoint holds one '
                       f'student per direction, pick one of {directions}')
    if student is not None and not directions:
        raise KeyError(f'--student {student}: this checkpoint has one '
                       'direction only; leave --student out')
    prefix = (f'directions.{student}.' if student else '') + PREFIXES[part]
    out = OrderedDict((k[len(prefix):], v) for k, v in state.items()
                      if k.startswith(prefix))
    if not out:
        heads = sorted({k.split('.')[0] for k in state})
        raise KeyError(f'no "{prefix}*" weights: top-level keys are {heads}; '
                       'is this a CrossModalDistill checkpoint?')
    return out


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='distillation checkpoint (.pth)')
    parser.add_argument('dst', help='where to write the plain checkpoint')
    parser.add_argument('--part', choices=sorted(PREFIXES), default='student')
    parser.add_argument(
        '--student',
        metavar='KEY',
        help='direction of a bidirectional checkpoint, e.g. a_from_v')
    parser.add_argument(
        UNSAFE_LOAD_FLAG,
        action='store_true',
        help='unpickle the source fully: only for a checkpoint you trust')
    args = parser.parse_args(argv)
    try:
        ckpt = safe_load(args.src, map_location='cpu', trust=args.unsafe_load)
    except FileNotFoundError:
        parser.error(f'{args.src} does not exist')
    except UnsafePickleError as err:
        parser.error(str(err))
    try:
        state = extract(ckpt, args.part, args.student)
    except KeyError as e:
        parser.error(f'{args.src}: {e.args[0]}')
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    out = dict(
        meta=dict(
            source=osp.abspath(args.src),
            part=args.part,
            student=args.student,
            epoch=int(meta.get('epoch', -1)),
            iter=int(meta.get('iter', -1))),
        state_dict=state)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    tmp = args.dst + '.tmp'
    torch.save(out, tmp)
    os.replace(tmp, args.dst)
    print(f'{len(state)} {args.part} tensors -> {args.dst}')


if __name__ == '__main__':
    main()
