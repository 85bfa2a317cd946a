"""AVE: audio-visual event localization videos, 28 event classes."""
from typing import Any, Dict, List, Tuple

from fdkd_plugin.registry import DATASETS
from .base_av_dataset import BaseAVDataset
from .checks import read_index_lines

__all__ = ['AVEDataset', 'AVE_CLASSES']

#: The 28 AVE categories in the order of the AVE release (the order of its
#: label encoding), spelled as in ``Annotations.txt``. Hard-coded rather than
#: derived from an index, because the splits do not contain the same set of
#: categories in the same order of appearance.
AVE_CLASSES: Tuple[str, ...] = (
    'Church bell', 'Male speech, man speaking', 'Bark',
    'Fixed-wing aircraft, airplane', 'Race car, auto racing',
    'Female speech, woman speaking', 'Helicopter', 'Violin, fiddle', 'Flute',
    'Ukulele', 'Frying (food)', 'Truck', 'Shofar', 'Motorcycle',
    'Acoustic guitar', 'Train horn', 'Clock', 'Banjo', 'Goat',
    'Baby cry, infant cry', 'Bus', 'Chainsaw', 'Cat', 'Horse', 'Toilet flush',
    'Rodents, rats, mice', 'Accordion', 'Mandolin')


@DATASETS.register_module()
class AVEDataset(BaseAVDataset):
    """AVE (Tian et al., 2018): 4143 videos of 10 s, 28 event categories.

    The index rows are ``Category&VideoID&Quality&StartTime&EndTime``
    (``trainSet.txt`` / ``valSet.txt`` / ``testSet.txt``: 3339 / 402 / 402
    rows); a first line that starts with ``Category`` is a header and is
    skipped. Category names contain commas, so only ``&`` separates fields.
    The start / end seconds of the event go into the data info as
    ``'audio_start'`` / ``'audio_end'`` (``LoadAudio`` cuts a wav to them).
    The layout::

        data_root/
        ├── trainSet.txt              # Church bell&RUhOCu3LNXM&good&0&10
        ├── valSet.txt
        ├── testSet.txt
        ├── AudioWAV/                 # audio_format='wav'
        │   ├── RUhOCu3LNXM.wav
        │   └── ...
        ├── AudioSpec/                # audio_format='pkl': pickled (F, T)
        │   ├── RUhOCu3LNXM.pkl       # spectrogram of the event span
        │   └── ...
        └── Image-01-FPS-SE/          # frames of the event span, 1 fps
            ├── RUhOCu3LNXM/
            │   ├── 00001.jpg
            │   └── ...
            └── ...

    Spectrograms precomputed elsewhere under another folder name (e.g.
    ``Audio-1004-SE``) are read with
    ``audio_tmpl='Audio-1004-SE/{clip_id}.pkl'``.

    Args:
        ann_file (str): ``'trainSet.txt'``, ``'valSet.txt'`` or
            ``'testSet.txt'``.
        event_span (bool): Put the row's event start / end seconds into the
            data info, so that ``LoadAudio`` cuts the wav to the event.
            Defaults to True. Set False when the wav files are already cut.
        **kwargs: See :class:`BaseAVDataset` (``audio_format`` chooses
            ``'wav'`` or ``'pkl'``).
    """

    METAINFO: dict = dict(classes=AVE_CLASSES)
    FRAMES_TMPL: str = 'Image-01-FPS-SE/{clip_id}'
    PREPARE: str = (
        'put the AVE download (AVE/<id>.mp4 and its trainSet.txt / valSet.txt'
        ' / testSet.txt) under data_root and run `python '
        'tools/dataset_converters/ave.py --root <data_root>` (README.md, '
        'section "Data")')
    ROW_FORMAT: str = 'Category&VideoID&Quality&StartTime&EndTime'

    def __init__(self, ann_file: str, event_span: bool = True,
                 **kwargs: Any) -> None:
        self.event_span = bool(event_span)
        super().__init__(ann_file=ann_file, **kwargs)

    def parse_ann_file(self, ann_file: str) -> List[Dict[str, Any]]:
        """Parse ``Category&id&quality&start&end`` rows.

        Args:
            ann_file (str): The ``&``-separated index.

        Returns:
            list[dict]: ``{'clip_id', 'label', 'line'}`` per row, plus
            ``'audio_start'`` / ``'audio_end'`` when ``event_span``.

        Raises:
            ValueError: A row without 5 fields, with non-numeric seconds or
                with ``end <= start`` (naming the file, line and row).
        """
        rows: List[Dict[str, Any]] = []
        for line_no, line in read_index_lines(ann_file):
            line = line.strip()
            fields = [x.strip() for x in line.split('&')]
            if not rows and fields[0].lower() == 'category':
                continue  # header row
            if len(fields) != 5:
                raise ValueError(
                    f'{ann_file} line {line_no}: expected 5 fields '
                    f'"Category&id&quality&start&end", got {line!r}')
            label, clip_id, _quality, start, end = fields
            try:
                start_s, end_s = float(start), float(end)
            except ValueError:
                raise ValueError(
                    f'{ann_file} line {line_no}: start {start!r} / end '
                    f'{end!r} are not numbers') from None
            if not start_s >= 0 or not end_s > start_s:  # NaN fails too
                raise ValueError(
                    f'{ann_file} line {line_no}: event span '
                    f'[{start_s}, {end_s}] must satisfy 0 <= start < end')
            row: Dict[str, Any] = dict(
                clip_id=clip_id, label=label, line=line_no)
            if self.event_span:
                row.update(audio_start=start_s, audio_end=end_s)
            rows.append(row)
        return rows
