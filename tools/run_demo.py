"""The demo behind ``make demo``: cross-modal distillation on AV-digits.

1. trains the visual teacher (``configs/unimodal/avdigits_visual.py``),
2. trains the audio unimodal baseline (``configs/unimodal/avdigits_audio.py``),
3. distills an audio student from the visual teacher with FDKD
   (``configs/fdkd/avdigits_audio_from_visual.py``), same schedule,
4. runs the same FDKD with an untrained teacher (``model.control=
   untrained_teacher``), the control that tells what the teacher's
   knowledge adds,
5. tests each selected checkpoint (best on the validation split) on the test
   split and prints the comparison.

Every step is resumable: a finished step is reused (``done.json`` in its
work dir), an interrupted one resumes from its last checkpoint.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import fdkd_plugin  # noqa: F401
from fdkd_plugin.utils.runs import (REPO_ROOT, data_options, markdown_table,
                                    train_and_test)

FDKD = 'configs/fdkd/avdigits_audio_from_visual.py'
# (row, student, config, work dir name, extra --cfg-options)
TEACHER = ('Uni (teacher)', 'visual', 'configs/unimodal/avdigits_visual.py',
           'avdigits_visual', [])
STEPS = [
    TEACHER,
    ('Uni', 'audio', 'configs/unimodal/avdigits_audio.py', 'avdigits_audio',
     []),
    ('FDKD', 'audio', FDKD, 'avdigits_audio_from_visual', []),
    ('FDKD, untrained teacher', 'audio', FDKD,
     'avdigits_audio_from_visual_untrained_teacher',
     ['model.control=untrained_teacher']),
]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/avdigits')
    parser.add_argument(
        '--work-dir', default='work_dirs/demo', help='one folder per step')
    parser.add_argument(
        '--epochs', type=int, help='override max_epochs of every step')
    parser.add_argument(
        '--fresh', action='store_true', help='retrain finished steps')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(osp.join(REPO_ROOT, args.data_root, 'test.csv')):
        sys.exit(f'{args.data_root}/test.csv not found: build AV-digits with '
                 '`make data` (tools/dataset_converters/make_avdigits.py)')
    common = data_options(args.data_root, args.epochs)
    teacher_ckpt = osp.join(args.work_dir, TEACHER[3], 'selected.pth')
    results = {}
    for label, modality, config, name, extra in STEPS:
        opts = list(common) + extra
        if config.startswith('configs/fdkd/'):
            opts.append(f'model.teacher_ckpt={teacher_ckpt}')
        print(f'\n[demo] {label} ({modality}): {config}', flush=True)
        results[name] = train_and_test(
            config, osp.join(args.work_dir, name), opts, fresh=args.fresh)

    rows = [('Method', 'Student', 'Teacher', 'Test top-1 (%)', 'Minutes',
             'Work dir')]
    for label, modality, config, name, extra in STEPS:
        r = results[name]
        teacher = '-' if 'fdkd' not in config else \
            'visual, untrained' if extra else 'visual'
        rows.append((label, modality, teacher,
                     f'{r["accuracy/top1"]:.2f}', f'{r["minutes"]:.1f}',
                     osp.join(args.work_dir, name)))
    print('\nAV-digits: audio student distilled from the visual teacher '
          '(checkpoints selected on the validation split, scored on test)')
    print(markdown_table(rows))
    acc = {name: results[name]['accuracy/top1'] for *_, name, _ in STEPS}
    fdkd, uni = acc['avdigits_audio_from_visual'], acc['avdigits_audio']
    control = acc['avdigits_audio_from_visual_untrained_teacher']
    print(f'\nFDKD - Uni (audio student): {fdkd - uni:+.2f} points, of '
          f'which the trained teacher (FDKD - FDKD with an untrained '
          f'teacher): {fdkd - control:+.2f} and FDKD\'s own band heads '
          f'(untrained teacher - Uni): {control - uni:+.2f}. One seed: see '
          'docs/results.md for 3 seeds.')


if __name__ == '__main__':
    main()
