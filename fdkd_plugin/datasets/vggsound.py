"""VGGSound subset: 10 s YouTube clips, one sound label each."""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

from fdkd_plugin.registry import DATASETS
from .base_av_dataset import BaseAVDataset
from .checks import read_index_csv

__all__ = ['VGGSoundDataset']


@DATASETS.register_module()
class VGGSoundDataset(BaseAVDataset):
    """VGGSound (Chen et al., 2020), the 50-class subset of the CMKD papers.

    The index is a csv with rows ``ytid,start,label,split``
    (``train_tiny.csv`` / ``test_tiny.csv``: 25835 / 2500 rows; an optional
    header row, recognised by a non-integer second field, is skipped;
    labels holding commas are quoted as csv quotes them). A clip is named
    ``<ytid>_<start:06d>``. The layout::

        data_root/
        ├── train_tiny.csv            # -0BIyqJj9ZU,30,playing flute,train
        ├── test_tiny.csv
        ├── audio/
        │   ├── -0BIyqJj9ZU_000030.wav
        │   └── ...
        └── Image-01-FPS/             # 1 fps frames, one folder per clip
            ├── -0BIyqJj9ZU_000030.mp4/
            │   ├── 00001.jpg
            │   └── ...
            └── ...

    The class list is the sorted set of labels of ``train_tiny.csv`` by
    default, so that the test split maps labels exactly as training does
    even where it lacks a class.

    Args:
        ann_file (str): ``'train_tiny.csv'`` or ``'test_tiny.csv'``.
        classes (str | Sequence[str], optional): Class names in label order;
            or a class file: a ``.csv`` in the index format (its sorted
            unique labels) or a text file with one name per line (in file
            order). Defaults to None: the sorted unique labels of
            ``CLASS_FILE`` (``'train_tiny.csv'`` under ``data_root``).
        split (str, optional): Keep only rows whose split column equals this
            (e.g. ``'test'`` when reading the full ``vggsound.csv``).
            Defaults to None: keep every row.
        **kwargs: See :class:`BaseAVDataset`.
    """

    AUDIO_TMPL: Dict[str, str] = {
        'wav': 'audio/{clip_id}.wav',
        'pkl': 'AudioSpec/{clip_id}.pkl',
        'npy': 'AudioSpec/{clip_id}.npy',
    }
    FRAMES_TMPL: str = 'Image-01-FPS/{clip_id}.mp4'
    #: The index whose labels make the default class list.
    CLASS_FILE: str = 'train_tiny.csv'
    PREPARE: str = (
        'put the subset\'s train_tiny.csv / test_tiny.csv and the clips '
        '(video/<ytid>_<start>.mp4) under data_root and run `python '
        'tools/dataset_converters/vggsound.py --root <data_root>` '
        '(README.md, section "Data")')
    ROW_FORMAT: str = 'ytid,start,label,split'

    def __init__(self,
                 ann_file: str,
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 split: Optional[str] = None,
                 **kwargs: Any) -> None:
        if split is not None and not str(split).strip():
            raise ValueError(f'split={split!r} must be None or a non-empty '
                             'string')
        self.split = split
        super().__init__(ann_file=ann_file, classes=classes, **kwargs)

    @staticmethod
    def read_rows(ann_file: str,
                  split: Optional[str] = None) -> List[Dict[str, Any]]:
        """Parse ``ytid,start,label,split`` rows of a VGGSound csv.

        Args:
            ann_file (str): The csv index.
            split (str, optional): Keep only rows of this split.

        Returns:
            list[dict]: ``{'clip_id', 'label', 'line'}`` per row, where
            ``clip_id = f'{ytid}_{start:06d}'``.

        Raises:
            ValueError: A row without 4 fields, or a non-integer start after
                the first row (naming the file, the line and the value).
        """
        rows: List[Dict[str, Any]] = []
        first = True
        for line_no, fields in read_index_csv(ann_file):
            if len(fields) != 4:
                raise ValueError(
                    f'{ann_file} line {line_no}: expected 4 fields '
                    f'"ytid,start,label,split", got {fields!r}')
            ytid, start, label, row_split = fields
            try:
                start_f = float(start)
                if start_f != int(start_f) or start_f < 0:
                    raise ValueError
                start_i = int(start_f)
            except (ValueError, OverflowError):
                if first:  # an optional header row
                    first = False
                    continue
                raise ValueError(
                    f'{ann_file} line {line_no}: start {start!r} is not '
                    'a non-negative whole number of seconds') from None
            first = False
            if split is not None and row_split != split:
                continue
            rows.append(
                dict(clip_id=f'{ytid}_{start_i:06d}', label=label,
                     line=line_no))
        return rows

    def parse_ann_file(self, ann_file: str) -> List[Dict[str, Any]]:
        """Parse the index (see :meth:`read_rows`), filtered by ``split``."""
        return self.read_rows(ann_file, self.split)

    def load_class_file(self, path: str) -> List[str]:
        """Class names from a ``.csv`` index (sorted unique labels) or text.

        Args:
            path (str): The class file.

        Returns:
            list[str]: Class names in label order.
        """
        if path.lower().endswith('.csv'):
            return sorted({r['label'] for r in self.read_rows(path)})
        return super().load_class_file(path)

    def default_classes(self, data_root: str) -> List[str]:
        """The sorted unique labels of ``data_root/CLASS_FILE``.

        Args:
            data_root (str): The data set's root folder.

        Returns:
            list[str]: Sorted class names.
        """
        path = osp.join(data_root, self.CLASS_FILE)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} (the default class file) does not exist: pass '
                'classes=[...] or classes=<class file>; if the data set is '
                f'not prepared yet: {self.PREPARE}')
        return self.load_class_file(path)
