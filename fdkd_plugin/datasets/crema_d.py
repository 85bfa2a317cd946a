"""CREMA-D: audio-visual emotion recognition, six classes."""
from typing import Any, Dict, List, Tuple

from fdkd_plugin.registry import DATASETS
from .base_av_dataset import BaseAVDataset
from .checks import read_index_csv

__all__ = ['CremaDDataset']


@DATASETS.register_module()
class CremaDDataset(BaseAVDataset):
    """CREMA-D (Cao et al., 2014): 7442 clips, 6 emotions, audio + frames.

    The index is a csv with rows ``clip,LABEL`` (no header in the field's
    ``train.csv`` / ``test.csv``, 6698 / 744 rows; a first row whose label
    field is a header word such as ``label`` or ``emotion`` is accepted and
    skipped). Labels ``NEU HAP SAD FEA DIS ANG`` map to 0..5. The layout::

        data_root/
        ├── train.csv                 # 1001_DFA_ANG_XX,ANG
        ├── test.csv
        ├── AudioWAV/
        │   ├── 1001_DFA_ANG_XX.wav
        │   └── ...
        └── Image-01-FPS/             # frames at 1 fps, one folder per clip
            ├── 1001_DFA_ANG_XX/
            │   ├── 00001.jpg
            │   └── ...
            └── ...

    With ``audio_format='pkl'`` (or ``'npy'``) the audio modality is read
    from ``AudioSpec/<clip>.pkl`` instead (override with ``audio_tmpl``).
    Passing ``classes`` reuses this parser for any ``clip,label`` index with
    another label set (see :class:`AVDigitsDataset`).

    Args:
        ann_file (str): ``'train.csv'`` or ``'test.csv'`` (relative to
            ``data_root``).
        **kwargs: See :class:`BaseAVDataset` (``data_root``, ``pipeline``,
            ``modalities``, ``audio_format``, ``classes``, ``strict``, ...).
    """

    METAINFO: dict = dict(classes=('NEU', 'HAP', 'SAD', 'FEA', 'DIS', 'ANG'))
    #: Label-field values that mark a header row (compared lower-case).
    HEADER_WORDS: Tuple[str, ...] = ('label', 'emotion', 'class', 'category',
                                     'digit')
    PREPARE: str = (
        'put the field\'s train.csv / test.csv and the download\'s AudioWAV/ '
        'under data_root and extract the frames with `python '
        'tools/dataset_converters/crema_d.py --root <data_root>` (README.md, '
        'section "Data")')

    def parse_ann_file(self, ann_file: str) -> List[Dict[str, Any]]:
        """Parse ``clip,label`` rows.

        Args:
            ann_file (str): The csv index.

        Returns:
            list[dict]: ``{'clip_id', 'label', 'line'}`` per row.

        Raises:
            ValueError: A row that has not exactly two fields, or a file
                that is not UTF-8 (naming the file, the line and the row).
        """
        rows: List[Dict[str, Any]] = []
        for line_no, fields in read_index_csv(ann_file):
            if len(fields) != 2:
                raise ValueError(
                    f'{ann_file} line {line_no}: expected 2 fields '
                    f'"clip,label", got {fields!r}')
            clip_id, label = fields
            if (not rows and label.lower() in self.HEADER_WORDS
                    and label not in self.metainfo['classes']):
                continue  # optional header row
            rows.append(dict(clip_id=clip_id, label=label, line=line_no))
        return rows
