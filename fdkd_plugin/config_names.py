"""Config file names: OpenMMLab's pattern, with the direction kept.

::

    {method}[-{variant}]_{arch}_{schedule}_{dataset}-{student}-from-{teacher}
    {arch}_{schedule}_{dataset}-{modality}                    (unimodal)

(plus ``.py``)

e.g. ``fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py``,
``fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb.py`` and
``r18_1xb64-100e_crema-d-visual.py``:

- ``arch`` is one token when both networks share it (``r18``, ``r18-w32``
  for the half-width ResNet-18, ``r18-3f`` for ResNet-18 on 3 frames per
  clip, ``mbv2``, ``bert-base``), else ``{teacher}_{student}`` as in
  MMRazor's ``kd_logits_resnet34_resnet18_8xb32_in1k.py``;
- ``schedule`` is ``{gpus}xb{batch per gpu}-{epochs}e``;
- ``dataset`` is the registry's key with ``-`` for ``_`` (``crema-d``).

The names before 0.2 (``configs/fdkd/avdigits_audio_from_visual.py``,
``configs/unimodal/nyu_rgb.py``) still resolve, with a warning, in every
tool that takes a config (:func:`resolve`, or ``type=config_arg`` on an
argparse argument), until 0.3 (``docs/changelog.md``).
"""
import glob
import os.path as osp
import re
import warnings
from typing import NamedTuple, Optional, Tuple

from fdkd_plugin.experiments import DATASETS

__all__ = [
    'ConfigName', 'parse', 'parse_legacy', 'find', 'folder_of', 'resolve',
    'config_arg'
]

_SCHEDULE = re.compile(r'(?P<gpus>\d+)xb(?P<batch>\d+)-(?P<epochs>\d+)e')
# the two AV-digits FDKD configs with the Logit baseline's KL added were
# named {dataset}_{direction}_logit_kd before 0.2; their variant is 'logit'
_LEGACY_VARIANTS = {'logit_kd': 'logit'}


class ConfigName(NamedTuple):
    """What a config's file name says.

    ``method`` is ``'uni'`` for a unimodal config; ``student`` is the
    modality of a unimodal config; ``teacher`` is None for a unimodal
    config and for a name whose last field is no direction (``extra``, e.g.
    ``'bidirectional'``).
    """
    method: str
    variant: str
    archs: Tuple[str, ...]
    gpus: Optional[int]
    batch: Optional[int]
    epochs: Optional[int]
    dataset: str
    student: Optional[str]
    teacher: Optional[str]
    extra: str = ''


def _dataset_tag(dataset: str) -> str:
    return dataset.replace('_', '-')


def _split_tail(tail: str) -> Tuple[str, str]:
    """``crema-d-audio-from-visual`` -> ``('crema_d',
    'audio-from-visual')``; a data set the registry lacks keeps its
    name up to the first modality-like field."""
    for dataset in sorted(DATASETS, key=len, reverse=True):
        tag = _dataset_tag(dataset)
        if tail.startswith(tag + '-'):
            return dataset, tail[len(tag) + 1:]
    m = re.fullmatch(r'(?P<ds>.+?)-(?P<rest>[^-]+(-from-[^-]+)?)', tail)
    if not m:
        raise ValueError(f'{tail!r} names no data set and modality')
    return m.group('ds').replace('-', '_'), m.group('rest')


def parse(path: str) -> ConfigName:
    """Read a config name in the pattern above (a path or a bare name).

    Raises:
        ValueError: the name does not follow the pattern (the message says
            which field is missing).
    """
    stem = osp.splitext(osp.basename(path))[0]
    fields = stem.split('_')
    if len(fields) < 3 or not _SCHEDULE.fullmatch(fields[-2]):
        raise ValueError(
            f'{osp.basename(path)}: not a config name of the form '
            '[{method}_]{arch}_{gpus}xb{batch}-{epochs}e_{dataset}-'
            '{direction or modality}.py')
    schedule = _SCHEDULE.fullmatch(fields[-2])
    dataset, rest = _split_tail(fields[-1])
    student, teacher, extra = None, None, ''
    if '-from-' in rest:
        student, teacher = rest.split('-from-')
    elif rest in DATASETS.get(dataset, ('', ''))[1] or dataset not in \
            DATASETS and len(fields) == 3:
        student = rest
    else:
        extra = rest
    if student is not None and teacher is None:
        method, variant, archs = 'uni', '', tuple(fields[:-2])
    else:
        method, _, variant = fields[0].partition('-')
        archs = tuple(fields[1:-2])
    if not archs:
        raise ValueError(f'{osp.basename(path)}: no architecture field')
    return ConfigName(method, variant, archs, int(schedule.group('gpus')),
                      int(schedule.group('batch')),
                      int(schedule.group('epochs')), dataset, student,
                      teacher, extra)


def parse_legacy(path: str) -> Optional[ConfigName]:
    """A name from before 0.2 (``avdigits_audio_from_visual_logit_kd``,
    ``nyu_rgb``, ``avdigits_bidirectional``), read with its folder for the
    method; None when it is not one. Architecture and schedule are not in
    those names (empty / None)."""
    stem = osp.splitext(osp.basename(path))[0]
    for dataset in sorted(DATASETS, key=len, reverse=True):
        if stem.startswith(dataset + '_'):
            break
    else:
        return None
    rest = stem[len(dataset) + 1:]
    folder = osp.basename(osp.dirname(osp.normpath(path)))
    method = {'unimodal': 'uni', 'fdkd': 'fdkd'}.get(folder, folder or '')
    modalities = DATASETS[dataset][1]
    if rest in modalities:
        return ConfigName('uni', '', (), None, None, None, dataset, rest,
                          None)
    for student in modalities:
        for teacher in modalities:
            prefix = f'{student}_from_{teacher}'
            if student != teacher and (rest == prefix
                                       or rest.startswith(prefix + '_')):
                variant = rest[len(prefix) + 1:]
                return ConfigName(method, _LEGACY_VARIANTS.get(
                    variant, variant), (), None, None, None, dataset,
                                  student, teacher)
    return ConfigName(method, '', (), None, None, None, dataset, None, None,
                      rest)


def folder_of(method: str) -> str:
    """The repository-relative folder of a method's configs."""
    if method == 'uni':
        return 'configs/unimodal'
    if method == 'fdkd':
        return 'configs/fdkd'
    return f'configs/baselines/{method}'


def find(method: str,
         dataset: str,
         student: Optional[str] = None,
         teacher: Optional[str] = None,
         variant: str = '',
         extra: str = '',
         root: str = '.') -> Optional[str]:
    """The config of one cell, relative to ``root`` (the repository or
    ``.mim``), whatever its architecture and schedule; None if there is
    none.

    Raises:
        ValueError: more than one config fits; the message names them.
    """
    tag = _dataset_tag(dataset)
    if method == 'uni':
        pattern = f'*_{tag}-{student}.py'
    else:
        last = f'{student}-from-{teacher}' if teacher else extra
        head = f'{method}-{variant}' if variant else method
        pattern = f'{head}_*_{tag}-{last}.py'
    folder = folder_of(method)
    hits = sorted(
        osp.relpath(p, root)
        for p in glob.glob(osp.join(root, folder, pattern)))
    if len(hits) > 1:
        raise ValueError(f'{len(hits)} configs fit {folder}/{pattern}: '
                         f'{", ".join(hits)}; keep one, or name the config')
    return hits[0] if hits else None


def resolve(path: str, root: Optional[str] = None) -> str:
    """``path`` itself when it exists; else, when it is a config name from
    before 0.2, the config it was renamed to (with a warning); else
    ``path`` unchanged, for the caller's own not-found error."""
    if osp.isfile(path):
        return path
    old = parse_legacy(path)
    if old is None or osp.basename(osp.dirname(osp.normpath(path))) == '':
        return path
    base = root if root is not None else _configs_parent(path)
    new = find(old.method, old.dataset, old.student, old.teacher,
               old.variant, old.extra, root=base)
    if new is None:
        return path
    new = osp.join(base, new) if root is None and base != '.' else new
    warnings.warn(f'{path} was renamed to {new} (the OpenMMLab name '
                  'pattern, fdkd 0.2); the old name works until 0.3 '
                  '(docs/changelog.md)', FutureWarning, stacklevel=2)
    return new


def _configs_parent(path: str) -> str:
    """The folder that holds ``configs/`` in ``path``, or the working
    directory when ``path`` has none (``fdkd/nyu_rgb.py``)."""
    parts = osp.normpath(path).split(osp.sep)
    if 'configs' in parts:
        i = len(parts) - 1 - parts[::-1].index('configs')
        return osp.sep.join(parts[:i]) or ('/' if path.startswith('/')
                                           else '.')
    return '.'


def config_arg(value: str) -> str:
    """argparse ``type=`` for a config argument: :func:`resolve`."""
    return resolve(value)

