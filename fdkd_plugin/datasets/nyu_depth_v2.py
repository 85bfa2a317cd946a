"""NYU-Depth V2, 40-class semantic segmentation with paired RGB and depth."""
import os.path as osp
from typing import Any, Dict, List, Optional

from mmseg.datasets import BaseSegDataset

from fdkd_plugin.registry import DATASETS
from .checks import missing_index_error, read_index_lines, require_rows

__all__ = ['NYUDepthV2Dataset', 'NYU40_CLASSES']

#: The 40 classes of Gupta et al. (``className`` of ``classMapping40.mat``),
#: in label order 0..39 (their ids 1..40 minus one).
NYU40_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
    'window', 'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves',
    'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel',
    'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet',
    'sink', 'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture',
    'otherprop')


@DATASETS.register_module()
class NYUDepthV2Dataset(BaseSegDataset):
    """NYU-Depth V2 (labeled part): RGB, depth and a 40-class label map.

    mmseg's own ``NYUDataset`` is for depth *estimation*; this one serves
    paired inputs for segmentation, in the layout that
    ``tools/dataset_converters/nyu_depth_v2.py`` writes from the official
    downloads::

        data/nyu_depth_v2/
        ├── rgb/0001.png ... 1449.png      # uint8 RGB, 480x640
        ├── depth/0001.png ...             # uint16, millimetres
        ├── label40/0001.png ...           # uint8: 0..39 classes, 255 void
        ├── hha/0001.png ...               # optional, pre-computed HHA
        ├── train.txt                      # 795 names (official split)
        └── test.txt                       # 654 names

    A name is the image's 1-based index in ``nyu_depth_v2_labeled.mat``.
    Each data info holds ``'rgb_path'`` (also as ``'img_path'``, which
    mmseg's metrics and visualizer read), ``'depth_path'``,
    ``'seg_map_path'``, ``'name'``, and mmseg's ``'label_map'``,
    ``'reduce_zero_label'`` (False: void is already 255) and
    ``'seg_fields'``. The pipeline decides which modalities to load
    (``fdkd.LoadRGBD(modalities=...)``); for HHA set
    ``data_prefix=dict(..., depth_path='hha')`` and
    ``fdkd.LoadRGBD(depth_encoding='hha')``.

    Args:
        ann_file (str): the split list, relative to ``data_root``. Defaults
            to ``'train.txt'``.
        data_root (str, optional): the data set folder.
        data_prefix (dict): folders of ``rgb_path``, ``depth_path`` and
            ``seg_map_path``, relative to ``data_root``.
        img_suffix (str): suffix of the RGB and depth files. Defaults to
            ``'.png'``.
        seg_map_suffix (str): Defaults to ``'.png'``.
        check_files (bool): raise ``FileNotFoundError`` naming the first
            missing file of a listed sample when the list is loaded, rather
            than at its first use. Defaults to True.
        **kwargs: other arguments of mmseg's ``BaseSegDataset``
            (``pipeline``, ``test_mode``, ``indices``, ...).
    """

    METAINFO = dict(classes=NYU40_CLASSES)

    def __init__(self,
                 ann_file: str = 'train.txt',
                 data_root: Optional[str] = None,
                 data_prefix: Optional[dict] = None,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 check_files: bool = True,
                 **kwargs: Any) -> None:
        prefix = dict(rgb_path='rgb', depth_path='depth',
                      seg_map_path='label40')
        prefix.update(data_prefix or {})
        self.check_files = bool(check_files)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=False,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """One data info per name of ``ann_file`` (see the class docstring).

        The list is read by ``checks.read_index_lines`` (UTF-8 with or
        without a byte-order mark, any line ends, blank lines skipped).

        Raises:
            FileNotFoundError: the list, or (``check_files``) a file of a
                listed sample, is missing.
            ValueError: the list is empty, not UTF-8, or names a sample
                twice (naming the lines).
        """
        if not osp.isfile(self.ann_file):
            raise missing_index_error(
                type(self).__name__, self.ann_file,
                'run tools/dataset_converters/nyu_depth_v2.py (see '
                'docs/nyu_depth_v2.md)')
        lines = read_index_lines(self.ann_file)
        require_rows(lines, self.ann_file, '0001')
        names = []
        first: Dict[str, int] = {}  # name -> its line
        for number, line in lines:
            name = line.strip()
            if name in first:
                raise ValueError(
                    f'{self.ann_file} lists {name!r} on line {number} and on '
                    f'line {first[name]}: it would be used twice; remove one '
                    '(tools/dataset_converters/nyu_depth_v2.py writes each '
                    'name once)')
            first[name] = number
            names.append(name)
        data_list = []
        for name in names:
            info = dict(
                name=name,
                rgb_path=osp.join(self.data_prefix['rgb_path'],
                                  name + self.img_suffix),
                depth_path=osp.join(self.data_prefix['depth_path'],
                                    name + self.img_suffix),
                seg_map_path=osp.join(self.data_prefix['seg_map_path'],
                                      name + self.seg_map_suffix),
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[])
            info['img_path'] = info['rgb_path']
            if self.check_files:
                for key in ('rgb_path', 'depth_path', 'seg_map_path'):
                    if not osp.isfile(info[key]):
                        raise FileNotFoundError(
                            f'{info[key]} (sample {name!r} of '
                            f'{self.ann_file}) does not exist; run '
                            'tools/dataset_converters/nyu_depth_v2.py again '
                            '(it resumes) or remove the name from the list')
            data_list.append(info)
        return data_list
