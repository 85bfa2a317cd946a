"""The experiment list in one place: data sets, modalities, directions,
methods and the config of each table cell, and the paper's published
numbers next to them.

The table runner (``tools/run_table.py``), the collector
(``tools/analysis_tools/collect_results.py``) and the model index
(``tools/misc/make_model_index.py``) read these tables instead of keeping
their own copies.

Config layout (one file per cell, names as in
:mod:`fdkd_plugin.config_names`)::

    configs/unimodal/{arch}_{schedule}_{dataset}-{modality}.py     "Uni"
    configs/fdkd/fdkd_{arch}_{schedule}_{dataset}-{student}-from-{teacher}.py
    configs/baselines/{method}/{method}_{arch}_{schedule}_{dataset}-...py
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

# name: (title, modalities in the paper's column order)
DATASETS: Dict[str, Tuple[str, Tuple[str, str]]] = {
    'avdigits': ('AV-digits', ('audio', 'visual')),
    'crema_d': ('CREMA-D', ('audio', 'visual')),
    'ave': ('AVE', ('audio', 'visual')),
    'vggsound': ('VGGSound', ('audio', 'visual')),
    'crisismmd': ('CrisisMMD', ('text', 'image')),
    'nyu': ('NYU-Depth V2', ('depth', 'rgb')),
}
# the task and its metric per data set (names as in model-index files)
SEGMENTATION = {'nyu'}
# column letters of the paper ('V' is also the image of CrisisMMD)
MODALITY_ABBR = {
    'audio': 'A',
    'visual': 'V',
    'text': 'T',
    'image': 'V',
    'rgb': 'RGB',
    'depth': 'Depth',
}
# Table 1: category, then (method key, row label) in the paper's order
GROUPS: List[Tuple[str, List[Tuple[str, str]]]] = [
    ('Uni-Modal', [('uni', 'Uni (w/o KD)')]),
    ('Logits', [('logit', 'Logit'), ('dist', 'DIST'), ('dml', 'DML'),
                ('nkd', 'NKD'), ('dkd', 'DKD')]),
    ('Feature', [('feat', 'Feat'), ('pkd', 'PKD'), ('ofd', 'OFD'),
                 ('afd', 'AFD')]),
    ('Cross-Modal', [('c2kd', 'C2KD'), ('fdkd', 'Ours (FDKD)')]),
]
METHOD_LABELS = {key: label for _, rows in GROUPS for key, label in rows}
# the distillation methods of Table 1 in the paper's order (Uni is the
# teachers)
METHODS = [key for _, rows in GROUPS for key, _ in rows if key != 'uni']

# where each method comes from: (authors and venue, title, paper, code)
METHOD_SOURCES: Dict[str, Tuple[str, str, str, Optional[str]]] = {
    'uni': ('-', 'Unimodal training without distillation', '', None),
    'logit': ('Hinton et al., NIPS Workshop 2014',
              'Distilling the Knowledge in a Neural Network',
              'https://arxiv.org/abs/1503.02531', None),
    'dist': ('Huang et al., NeurIPS 2022',
             'Knowledge Distillation from A Stronger Teacher',
             'https://arxiv.org/abs/2205.10536',
             'https://github.com/hunto/image_classification_sota'),
    'dml': ('Zhang et al., CVPR 2018', 'Deep Mutual Learning',
            'https://arxiv.org/abs/1706.00384', None),
    'nkd': ('Yang et al., ICCV 2023',
            'From Knowledge Distillation to Self-Knowledge Distillation: '
            'A Unified Approach with Normalized Loss and Customized Soft '
            'Labels', 'https://arxiv.org/abs/2303.13005',
            'https://github.com/yzd-v/cls_KD'),
    'dkd': ('Zhao et al., CVPR 2022', 'Decoupled Knowledge Distillation',
            'https://arxiv.org/abs/2203.08679',
            'https://github.com/megvii-research/mdistiller'),
    'feat': ('Romero et al., ICLR 2015', 'FitNets: Hints for Thin Deep Nets',
             'https://arxiv.org/abs/1412.6550', None),
    'pkd': ('Cao et al., NeurIPS 2022',
            'PKD: General Distillation Framework for Object Detectors via '
            'Pearson Correlation Coefficient',
            'https://arxiv.org/abs/2207.02039', None),
    'ofd': ('Heo et al., ICCV 2019',
            'A Comprehensive Overhaul of Feature Distillation',
            'https://arxiv.org/abs/1904.01866',
            'https://github.com/clovaai/overhaul-distillation'),
    'afd': ('Ji et al., AAAI 2021',
            'Show, Attend and Distill: Knowledge Distillation via '
            'Attention-based Feature Matching',
            'https://arxiv.org/abs/2102.02973',
            'https://github.com/clovaai/attention-feature-distillation'),
    'c2kd': ('Huo et al., CVPR 2024',
             'C2KD: Bridging the Modality Gap for Cross-Modal Knowledge '
             'Distillation',
             'https://openaccess.thecvf.com/content/CVPR2024/html/Huo_C2KD_'
             'Bridging_the_Modality_Gap_for_Cross-Modal_Knowledge_'
             'Distillation_CVPR_2024_paper.html',
             'https://github.com/huofushuo/C2KD'),
    # the arXiv title (CITATION.cff); the submission's: "Frequency-Decoupled
    # Cross-Modal Knowledge Distillation"
    'fdkd': ('the FDKD paper', 'Distilling Cross-Modal Knowledge via Feature '
             'Disentanglement', 'https://arxiv.org/abs/2511.19887', None),
}

# The paper's published numbers (Table 1: top-1 %, Table 2: mIoU %), per
# (method, data set, student modality); a student is taught by the other
# modality of its data set. Not measured here.
_TABLE1_COLUMNS = [('crema_d', 'audio'), ('crema_d', 'visual'),
                   ('ave', 'audio'), ('ave', 'visual'),
                   ('vggsound', 'audio'), ('vggsound', 'visual'),
                   ('crisismmd', 'text'), ('crisismmd', 'image')]
_TABLE1 = {
    'uni': (62.4, 66.8, 63.7, 38.8, 68.9, 44.9, 77.4, 70.2),
    'logit': (61.7, 62.6, 60.0, 39.1, 65.7, 45.4, 78.5, 70.5),
    'dist': (62.2, 64.0, 62.4, 40.3, 66.4, 45.5, 78.3, 71.3),
    'dml': (52.7, 61.2, 60.2, 43.3, 57.8, 44.9, 78.2, 71.2),
    'nkd': (62.4, 61.8, 60.7, 38.1, 65.6, 44.9, 78.1, 71.2),
    'dkd': (61.0, 61.4, 60.5, 38.1, 64.4, 44.5, 79.0, 70.7),
    'feat': (60.9, 64.3, 58.7, 39.6, 67.7, 45.5, 77.7, 70.8),
    'pkd': (60.4, 64.8, 58.0, 41.0, 62.9, 46.9, 77.5, 70.9),
    'ofd': (60.6, 61.6, 58.0, 39.6, 68.5, 45.8, 78.1, 71.2),
    'afd': (61.2, 59.5, 62.7, 38.8, 68.7, 45.8, 69.8, 72.3),
    'c2kd': (57.5, 59.8, 62.7, 39.3, 67.0, 47.9, 77.9, 71.4),
    'fdkd': (64.1, 71.0, 64.9, 47.8, 70.0, 48.1, 79.1, 72.7),
}
# Table 2 (NYU-Depth V2, no DML / NKD / OFD row): depth and rgb students
_TABLE2 = {
    'uni': (30.9, 34.1),
    'logit': (29.7, 32.8),
    'dist': (32.3, 34.9),
    'dkd': (32.5, 35.3),
    'feat': (29.4, 32.8),
    'pkd': (31.0, 33.7),
    'afd': (30.2, 32.7),
    'c2kd': (31.8, 34.8),
    'fdkd': (33.2, 36.9),
}
_TABLE2_COLUMNS = [('nyu', 'depth'), ('nyu', 'rgb')]


def _cells(table: Dict[str, Tuple[float, ...]],
           columns: List[Tuple[str, str]]) -> Dict[Tuple[str, str, str],
                                                   float]:
    return {(method, dataset, student): value
            for method, row in table.items()
            for (dataset, student), value in zip(columns, row)}


PAPER_RESULTS: Dict[Tuple[str, str, str], float] = {
    **_cells(_TABLE1, _TABLE1_COLUMNS),
    **_cells(_TABLE2, _TABLE2_COLUMNS),
}


def modalities_of(dataset: str) -> Tuple[str, str]:
    if dataset not in DATASETS:
        raise ValueError(f'dataset={dataset!r} must be one of '
                         f'{sorted(DATASETS)}')
    return DATASETS[dataset][1]


def directions_of(dataset: str) -> List[Tuple[str, str, str]]:
    """``(direction, student, teacher)``, first modality as student first."""
    a, b = modalities_of(dataset)
    return [(f'{a}_from_{b}', a, b), (f'{b}_from_{a}', b, a)]


def unimodal_config(dataset: str, modality: str) -> str:
    """Repository-relative config of a unimodal model (a teacher, "Uni").

    Raises:
        FileNotFoundError: the repository has none.
    """
    return _config_of('uni', dataset, modality)


def method_config(method: str, dataset: str, direction: str) -> str:
    """Repository-relative config of one table cell (``direction`` as
    :func:`directions_of` gives it: ``audio_from_visual``).

    Raises:
        FileNotFoundError: the repository has none.
    """
    student, teacher = direction.split('_from_')
    return _config_of(method, dataset, student, teacher)


def _config_of(method: str, dataset: str, student: str,
               teacher: Optional[str] = None) -> str:
    # config_names reads DATASETS from here
    from fdkd_plugin.config_names import find, folder_of
    package = osp.dirname(osp.abspath(__file__))
    root = osp.dirname(package)  # the source tree, else the wheel's copy
    if not osp.isdir(osp.join(root, 'configs')):
        root = osp.join(package, '.mim')
    config = find(method, dataset, student, teacher, root=root)
    if config is None:
        what = f'{student} from {teacher}' if teacher else student
        raise FileNotFoundError(
            f'no {method} config for {dataset}, {what}, in '
            f'{folder_of(method)}/ (names: fdkd_plugin/config_names.py)')
    return config


def metric_of(dataset: str) -> Tuple[str, str]:
    """``(MMEngine metric key, model-index metric name)``."""
    if dataset in SEGMENTATION:
        return 'mIoU', 'mIoU'
    return 'accuracy/top1', 'Top 1 Accuracy'
