"""CrisisMMD v2.0, humanitarian task, agreed labels: tweet text + image."""
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from fdkd_plugin.registry import DATASETS
from .checks import (RowSkips, missing_index_error, read_index_lines,
                     require_rows)
from .labelled_dataset import LabelledDataset

__all__ = [
    'CrisisMMDDataset', 'CRISISMMD_CLASSES', 'CRISISMMD_LABEL_MERGE',
    'CRISISMMD_COLUMNS'
]

#: The five humanitarian classes, in label order.
CRISISMMD_CLASSES: Tuple[str, ...] = (
    'affected_individuals',
    'infrastructure_and_utility_damage',
    'rescue_volunteering_or_donation_effort',
    'other_relevant_information',
    'not_humanitarian',
)
#: The finer v2.0 labels that the five-class setup merges (Ofli, Alam and
#: Imran, ISCRAM 2020): people hurt, dead, missing or found are affected
#: individuals; damaged vehicles are infrastructure damage.
CRISISMMD_LABEL_MERGE: Dict[str, str] = {
    'injured_or_dead_people': 'affected_individuals',
    'missing_or_found_people': 'affected_individuals',
    'vehicle_damage': 'infrastructure_and_utility_damage',
}
#: The header of the v2.0 split files (tab-separated).
CRISISMMD_COLUMNS: Tuple[str, ...] = (
    'event_name', 'tweet_id', 'image_id', 'tweet_text', 'image', 'label',
    'label_text', 'label_image', 'label_text_image')
#: Columns a split file must have (besides the label column).
REQUIRED_COLUMNS: Tuple[str, ...] = ('tweet_id', 'image_id', 'tweet_text',
                                     'image')
LABEL_FIELDS: Tuple[str, ...] = ('label', 'label_text', 'label_image')


@DATASETS.register_module()
class CrisisMMDDataset(LabelledDataset):
    """CrisisMMD v2.0 humanitarian task on the agreed-label split: one row per
    (tweet, image) pair, 5 classes.

    The layout (the v2.0 archive, with the split files of the agreed-label
    setting unpacked next to ``data_image``)::

        data/CrisisMMD_v2.0/                       <- data_root
        ├── data_image/
        │   ├── california_wildfires/10_10_2017/917791130590183424_0.jpg
        │   └── ...                                (7 events)
        └── crisismmd_datasplit_agreed_label/
            ├── task_humanitarian_text_img_agreed_lab_train.tsv  <- ann_file
            ├── task_humanitarian_text_img_agreed_lab_dev.tsv
            └── task_humanitarian_text_img_agreed_lab_test.tsv

    Each split file is tab-separated with a header row, columns
    :data:`CRISISMMD_COLUMNS`: ``event_name, tweet_id, image_id,
    tweet_text, image, label, label_text, label_image, label_text_image``.
    ``image`` is the image path relative to ``data_root``
    (``data_image/<event>/<date>/<image_id>.jpg``); a tweet with several
    images has one row per image (``image_id`` = ``<tweet_id>_<k>``).
    ``label_text`` / ``label_image`` are the text and image annotations,
    ``label`` the pair's label (in the agreed split both annotations agree);
    ``label_text_image`` says whether they do (``Positive`` / ``Negative``)
    and is not read. Fields are not quoted: a row is split on tabs.

    For every row this class

    1. maps ``row[label_field]`` through ``label_map`` (default
       :data:`CRISISMMD_LABEL_MERGE`: ``injured_or_dead_people`` and
       ``missing_or_found_people`` -> ``affected_individuals``,
       ``vehicle_damage`` -> ``infrastructure_and_utility_damage``; a label
       not in the map is kept) and then to its index in
       :data:`CRISISMMD_CLASSES`; a label that is still unknown raises
       ``ValueError`` naming the line, the label and the file;
    2. drops a row that repeats an earlier row's ``image_id`` (it would be
       trained on twice); the same image with another label raises
       ``ValueError`` naming both lines;
    3. checks that the image exists. The image is required whatever the
       pipeline loads, so the text-only, the image-only and the distillation
       runs see the same rows.

    Rows dropped by 2. or 3. are skipped, and one ``UserWarning`` per split
    file counts them by reason, quoting the first of each; with
    ``strict=True`` the first one raises instead (``FileNotFoundError`` for
    a missing image, ``ValueError`` for a repeat). A split file that does not
    exist, holds no row, or whose rows are all skipped raises. The file is
    read by :mod:`fdkd_plugin.datasets.checks` (UTF-8 with or without a
    byte-order mark, any line ends, blank lines skipped; another encoding
    raises naming the line).

    Each data info holds ``'tweet_text'`` (str, raw), ``'img_path'`` (str,
    what MMCV's ``LoadImageFromFile`` reads), ``'gt_label'`` (int),
    ``'label_name'`` (str, the row's label before merging), ``'tweet_id'``,
    ``'image_id'`` and ``'event_name'`` (str); MMEngine adds
    ``'sample_idx'``.

    Args:
        ann_file (str): The split file, relative to ``data_root`` unless
            absolute.
        data_root (str): The CrisisMMD_v2.0 folder. Defaults to ''.
        pipeline (Sequence[dict | Callable]): Transforms. Defaults to ().
        test_mode (bool): MMEngine's flag for a test set. Defaults to False.
        label_field (str): The column read as the label: ``'label'``,
            ``'label_text'`` or ``'label_image'``. Defaults to ``'label'``.
        label_map (dict, optional): Label renames applied before the class
            look-up. Defaults to None: :data:`CRISISMMD_LABEL_MERGE`; ``{}``
            merges nothing (then the finer labels raise).
        strict (bool): Raise on the first row that would be skipped (a
            missing image, a repeated row). Defaults to False.
        metainfo (dict, optional): Extra meta information (``classes`` is
            always :data:`CRISISMMD_CLASSES`).
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`
            (``indices``, ``serialize_data``, ``lazy_init`` ...).
    """

    METAINFO: dict = dict(classes=CRISISMMD_CLASSES)
    #: How to prepare the data set, quoted when its split file is missing.
    PREPARE: str = ('download the CrisisMMD v2.0 archive and the agreed-label '
                    'split files and unpack them under data_root as '
                    'docs/crisismmd.md, section 1, shows')

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 pipeline: Sequence[Any] = (),
                 test_mode: bool = False,
                 label_field: str = 'label',
                 label_map: Optional[Mapping[str, str]] = None,
                 strict: bool = False,
                 metainfo: Optional[dict] = None,
                 **kwargs: Any) -> None:
        if label_field not in LABEL_FIELDS:
            raise ValueError(f'label_field={label_field!r} must be one of '
                             f'{LABEL_FIELDS}')
        label_map = dict(CRISISMMD_LABEL_MERGE if label_map is None else
                         label_map)
        bad = {k: v for k, v in label_map.items() if v not in
               CRISISMMD_CLASSES}
        if bad:
            raise ValueError(f'label_map={bad!r} maps to names that are not '
                             f'classes {list(CRISISMMD_CLASSES)}')
        self.label_field = label_field
        self.label_map = label_map
        self.strict = bool(strict)
        metainfo = dict(metainfo or {})
        metainfo['classes'] = CRISISMMD_CLASSES
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            pipeline=list(pipeline),
            test_mode=test_mode,
            metainfo=metainfo,
            **kwargs)

    @property
    def class_to_idx(self) -> Dict[str, int]:
        """dict[str, int]: class name -> label index."""
        return {c: i for i, c in enumerate(self.metainfo['classes'])}

    @property
    def CLASSES(self) -> Tuple[str, ...]:
        """tuple[str]: The class names (mmpretrain's spelling)."""
        return tuple(self.metainfo['classes'])

    def parse_ann_file(self, ann_file: str) -> List[Dict[str, Any]]:
        """Read a split file into one dict per row.

        Args:
            ann_file (str): The tab-separated split file with a header.

        Returns:
            list[dict]: ``{column: value}`` per row plus ``'line'`` (int,
            1-based line number in the file); blank lines are skipped.

        Raises:
            ValueError: The header lacks a needed column, or a row has
                another number of fields than the header (naming the line).
        """
        lines = read_index_lines(ann_file)
        if not lines:
            raise ValueError(f'{ann_file} is empty (expected a header row); '
                             'copy the split file again')
        header = [c.strip() for c in lines[0][1].split('\t')]
        missing = [
            c for c in (*REQUIRED_COLUMNS, self.label_field)
            if c not in header
        ]
        if missing:
            raise ValueError(f'{ann_file} has no column(s) {missing}; header: '
                             f'{header}')
        rows = []
        for number, line in lines[1:]:
            fields = line.split('\t')
            if len(fields) != len(header):
                raise ValueError(
                    f'line {number} of {ann_file} has {len(fields)} '
                    f'tab-separated fields, the header {len(header)}')
            row: Dict[str, Any] = dict(zip(header, fields))
            row['line'] = number
            rows.append(row)
        return rows

    def load_data_list(self) -> List[dict]:
        """Resolve every row of ``ann_file`` into a data info dict.

        Returns:
            list[dict]: The data infos of the rows whose image exists, in
            file order (keys: see the class docstring).
        """
        owner = type(self).__name__
        if not osp.isfile(self.ann_file):
            raise missing_index_error(owner, self.ann_file, self.PREPARE)
        rows = self.parse_ann_file(self.ann_file)
        require_rows(rows, self.ann_file, '\t'.join(CRISISMMD_COLUMNS))
        class_to_idx = self.class_to_idx
        data_list: List[dict] = []
        skips = RowSkips(owner, self.ann_file, self.strict)
        seen: Dict[str, Tuple[int, str]] = {}  # image_id -> (line, label)
        for row in rows:
            raw = row[self.label_field].strip()
            label = self.label_map.get(raw, raw)
            where = f'line {row["line"]} of {self.ann_file}'
            if label not in class_to_idx:
                raise ValueError(
                    f'unknown label {raw!r} in {where} (classes: '
                    f'{list(class_to_idx)}; label_map: {self.label_map}); '
                    'fix the row or map the label with label_map=')
            image_id = row['image_id'].strip()
            if image_id in seen:
                first_line, first_label = seen[image_id]
                if first_label != label:
                    raise ValueError(
                        f'image {image_id!r} is labelled {first_label!r} in '
                        f'line {first_line} and {label!r} in {where}; keep '
                        'the right one of the two rows')
                skips.skip(
                    'repeated rows',
                    f'image {image_id!r} in {where} repeats line '
                    f'{first_line}; remove one of them', ValueError)
                continue
            seen[image_id] = (row['line'], label)
            img_path = osp.join(self.data_root, row['image'].strip())
            if not osp.isfile(img_path):
                skips.skip(
                    'rows whose image is missing',
                    f'{img_path} (image {image_id!r}, {where}) does not '
                    'exist')
                continue
            data_list.append(
                dict(
                    tweet_text=row['tweet_text'],
                    img_path=img_path,
                    gt_label=int(class_to_idx[label]),
                    label_name=raw,
                    tweet_id=row['tweet_id'].strip(),
                    image_id=image_id,
                    event_name=row.get('event_name', '').strip()))
        # one warning per split file, not one per row
        skips.finish(len(data_list))
        return data_list
