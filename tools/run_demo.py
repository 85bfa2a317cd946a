"""The demo behind ``make demo``: cross-modal distillation on AV-digits.

1. trains the visual teacher
   (``configs/unimodal/r18-w32_1xb32-12e_avdigits-visual.py``),
2. trains the audio unimodal baseline
   (``configs/unimodal/r18-w32_1xb32-12e_avdigits-audio.py``),
3. distills an audio student from the visual teacher with FDKD
   (``configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py``),
   same schedule,
4. runs the same FDKD with an untrained teacher (``model.control=
   untrained_teacher``), the control that tells what the teacher's
   knowledge adds,
5. tests each selected checkpoint (best on the validation split) on the test
   split and prints the comparison.

Every step is resumable: a finished step is reused (``done.json`` in its
work dir), an interrupted one resumes from its last checkpoint.

With ``--jobs 2`` (the default on 2 or more cores) the steps run in two
lanes side by side, each process on half the cores: the teacher then FDKD
(which needs it), and the untrained-teacher control (which does not) then
Uni. Each step's output goes to its ``run.log``; the demo prints when a step
starts and ends.
"""
import argparse
import os
import os.path as osp
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import fdkd_plugin  # noqa: F401
from fdkd_plugin.experiments import method_config, unimodal_config
from fdkd_plugin.utils.runs import (REPO_ROOT, data_options, markdown_table,
                                    train_and_test)

FDKD = method_config('fdkd', 'avdigits', 'audio_from_visual')
# (row, student, config, work dir name, extra --cfg-options)
TEACHER = ('Uni (teacher)', 'visual', unimodal_config('avdigits', 'visual'),
           'avdigits_visual', [])
STEPS = [
    TEACHER,
    ('Uni', 'audio', unimodal_config('avdigits', 'audio'), 'avdigits_audio',
     []),
    ('FDKD', 'audio', FDKD, 'avdigits_audio_from_visual', []),
    ('FDKD, untrained teacher', 'audio', FDKD,
     'avdigits_audio_from_visual_untrained_teacher',
     ['model.control=untrained_teacher']),
]
# the two lanes of --jobs 2 (indices into STEPS), about equally long: a
# run needs its teacher's checkpoint only in the first lane
LANES = [[0, 2], [3, 1]]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/avdigits')
    parser.add_argument(
        '--work-dir', default='work_dirs/demo', help='one folder per step')
    parser.add_argument(
        '--epochs', type=int, help='override max_epochs of every step')
    parser.add_argument(
        '--fresh', action='store_true', help='retrain finished steps')
    parser.add_argument(
        '--jobs',
        type=int,
        choices=[1, 2],
        default=2 if (os.cpu_count() or 1) >= 2 else 1,
        help='steps run side by side (default: 2 on 2 or more cores)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(osp.join(REPO_ROOT, args.data_root, 'test.csv')):
        sys.exit(f'{args.data_root}/test.csv not found: build AV-digits with '
                 '`make data` (tools/dataset_converters/make_avdigits.py)')
    common = data_options(args.data_root, args.epochs)
    teacher_ckpt = osp.join(args.work_dir, TEACHER[3], 'selected.pth')
    results: Dict[str, Dict[str, float]] = {}
    start = time.time()
    parallel = args.jobs > 1
    threads = max(1, (os.cpu_count() or 1) // args.jobs) if parallel else None

    def step(index: int) -> None:
        label, modality, config, name, extra = STEPS[index]
        opts = list(common) + extra
        if config.startswith('configs/fdkd/'):
            opts.append(f'model.teacher_ckpt={teacher_ckpt}')
        work_dir = osp.join(args.work_dir, name)
        print(f'\n[demo] {label} ({modality}): {config}' +
              (f', log {work_dir}/run.log' if parallel else ''), flush=True)
        kwargs = dict(quiet=True, threads=threads) if parallel else {}
        try:
            results[name] = train_and_test(
                config, work_dir, opts, fresh=args.fresh, **kwargs)
        except Exception:
            # say so now: the other lane may still run for minutes
            print(f'[demo] {label} failed (log {work_dir}/run.log)',
                  flush=True)
            raise
        print(f'[demo] {label}: test top-1 '
              f'{results[name]["accuracy/top1"]:.2f} '
              f'({(time.time() - start) / 60:.1f} min into the demo)',
              flush=True)

    if parallel:
        with ThreadPoolExecutor(len(LANES)) as pool:
            lanes = [
                pool.submit(lambda lane=lane: [step(i) for i in lane])
                for lane in LANES
            ]
            for lane in lanes:
                lane.result()  # a failed step fails the demo
    else:
        for index in range(len(STEPS)):
            step(index)

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
    print(f'Demo wall time: {(time.time() - start) / 60:.1f} min '
          f'({args.jobs} job(s)).')


if __name__ == '__main__':
    main()
