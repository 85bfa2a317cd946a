"""The base class shared by the audio-visual classification data sets."""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .labelled_dataset import LabelledDataset

__all__ = ['BaseAVDataset', 'AV_MODALITIES', 'AUDIO_FORMATS']

#: The modalities an audio-visual data set can serve.
AV_MODALITIES: Tuple[str, ...] = ('audio', 'visual')
#: Audio file formats: a waveform, or a spectrogram saved by pickle / numpy.
AUDIO_FORMATS: Tuple[str, ...] = ('wav', 'pkl', 'npy')


class BaseAVDataset(LabelledDataset):
    """Audio-visual classification data set: one row of an index per clip.

    Everything the audio-visual data sets share lives here; a subclass only
    parses its index file (:meth:`parse_ann_file`) and names its folders
    (:attr:`AUDIO_TMPL`, :attr:`FRAMES_TMPL`). For every row of the index this
    class

    1. maps the row's label to an integer through ``metainfo['classes']``
       (an unknown label raises ``ValueError`` naming the row number, the
       label and the index file);
    2. resolves the clip's files from path templates relative to
       ``data_root`` (``'{clip_id}'`` is replaced by the row's clip id);
    3. checks that the files of the requested ``modalities`` exist: the
       audio file (wav) or spectrogram (pkl / npy) for ``'audio'``, the frame
       folder for ``'visual'``. A row whose file is missing is skipped, and
       one ``UserWarning`` per index file reports how many rows were skipped,
       with the first missing path; with ``strict=True`` the first missing
       file raises ``FileNotFoundError`` naming it instead.

    Each data info (what the transforms read) holds:

    - ``'audio_path'`` (str | None): the wav file, None when
      ``audio_format`` is a spectrogram or ``'audio'`` is not requested.
    - ``'spec_path'`` (str | None): the pickled / npy spectrogram, None when
      ``audio_format='wav'`` or ``'audio'`` is not requested.
    - ``'frames_dir'`` (str | None): the folder of the clip's frames, None
      when ``'visual'`` is not requested.
    - ``'gt_label'`` (int): index of the label in ``metainfo['classes']``.
    - ``'clip_id'`` (str): the clip's id as the index names it.
    - ``'audio_start'`` / ``'audio_end'`` (float, seconds): only where the
      index gives an event span (AVE).

    MMEngine's ``BaseDataset`` adds ``'sample_idx'`` when an item is fetched.

    Args:
        ann_file (str): The index file, relative to ``data_root`` unless
            absolute.
        data_root (str): The data set's root folder. Defaults to ''.
        pipeline (Sequence[dict | Callable]): Transforms applied to each data
            info. Defaults to ().
        test_mode (bool): MMEngine's flag for a test set (no effect on the
            rows; the transforms take their own ``test_mode``). Defaults to
            False.
        modalities (Sequence[str]): Which of ``('audio', 'visual')`` this
            data set serves; only their files are resolved and required.
            Defaults to ``('audio', 'visual')``.
        audio_format (str): ``'wav'`` (waveform, read by ``LoadAudio``),
            ``'pkl'`` or ``'npy'`` (a saved spectrogram, read by
            ``LoadSpectrogram``). Defaults to ``'wav'``.
        audio_tmpl (str, optional): Path template of the audio file relative
            to ``data_root``, containing ``'{clip_id}'``. Defaults to None:
            ``AUDIO_TMPL[audio_format]`` of the class.
        frames_tmpl (str, optional): Path template of the frame folder,
            relative to ``data_root``, containing ``'{clip_id}'``. Defaults
            to None: the class's ``FRAMES_TMPL``.
        classes (str | Sequence[str], optional): The class names, in label
            order, or the path of a class file (see :meth:`load_class_file`).
            Defaults to None: ``METAINFO['classes']`` of the class, or
            :meth:`default_classes` where that is empty.
        strict (bool): Raise ``FileNotFoundError`` on the first missing file
            instead of skipping the row. Defaults to False.
        metainfo (dict, optional): Extra meta information; ``classes`` given
            as an argument wins over ``metainfo['classes']``.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`
            (``indices``, ``serialize_data``, ``lazy_init``,
            ``max_refetch``, ...).
    """

    METAINFO: dict = dict(classes=())
    #: Audio path template for each ``audio_format``.
    AUDIO_TMPL: Dict[str, str] = {
        'wav': 'AudioWAV/{clip_id}.wav',
        'pkl': 'AudioSpec/{clip_id}.pkl',
        'npy': 'AudioSpec/{clip_id}.npy',
    }
    #: Frame folder template.
    FRAMES_TMPL: str = 'Image-01-FPS/{clip_id}'

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 pipeline: Sequence[Any] = (),
                 test_mode: bool = False,
                 modalities: Sequence[str] = AV_MODALITIES,
                 audio_format: str = 'wav',
                 audio_tmpl: Optional[str] = None,
                 frames_tmpl: Optional[str] = None,
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 strict: bool = False,
                 metainfo: Optional[dict] = None,
                 **kwargs: Any) -> None:
        if isinstance(modalities, str):
            modalities = (modalities, )
        modalities = tuple(modalities)
        if not modalities or any(m not in AV_MODALITIES for m in modalities):
            raise ValueError(f'modalities={modalities!r} must be a non-empty '
                             f'subset of {AV_MODALITIES}')
        if len(set(modalities)) != len(modalities):
            raise ValueError(f'modalities={modalities!r} has duplicates')
        if audio_format not in AUDIO_FORMATS:
            raise ValueError(f'audio_format={audio_format!r} must be one of '
                             f'{AUDIO_FORMATS}')
        if audio_tmpl is None:
            audio_tmpl = self.AUDIO_TMPL[audio_format]
        if frames_tmpl is None:
            frames_tmpl = self.FRAMES_TMPL
        for name, tmpl in (('audio_tmpl', audio_tmpl),
                           ('frames_tmpl', frames_tmpl)):
            if '{clip_id}' not in tmpl:
                raise ValueError(f"{name}={tmpl!r} must contain '{{clip_id}}'")
        self.modalities = modalities
        self.audio_format = audio_format
        self.audio_tmpl = audio_tmpl
        self.frames_tmpl = frames_tmpl
        self.strict = bool(strict)

        metainfo = dict(metainfo or {})
        # resolved here, before BaseDataset loads the rows that need it
        metainfo['classes'] = self._resolve_classes(
            classes if classes is not None else metainfo.get('classes'),
            data_root)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            pipeline=list(pipeline),
            test_mode=test_mode,
            metainfo=metainfo,
            **kwargs)

    # ------------------------------------------------------------------
    # classes
    # ------------------------------------------------------------------
    def _resolve_classes(self, classes: Optional[Union[str, Sequence[str]]],
                         data_root: str) -> Tuple[str, ...]:
        """Turn the ``classes`` argument into a tuple of unique names."""
        if classes is None:
            names = tuple(self.METAINFO.get('classes', ()))
            if not names:
                names = tuple(self.default_classes(data_root))
        elif isinstance(classes, str):
            path = classes if osp.isabs(classes) or not data_root \
                else osp.join(data_root, classes)
            if not osp.isfile(path):
                raise FileNotFoundError(f'class file {path} does not exist')
            names = tuple(self.load_class_file(path))
        else:
            names = tuple(str(c) for c in classes)
        if not names:
            raise ValueError(f'{type(self).__name__}: the class list is '
                             f'empty (classes={classes!r})')
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise ValueError(f'classes has duplicate names: {dup}')
        return names

    def default_classes(self, data_root: str) -> Sequence[str]:
        """Class names when neither ``classes`` nor ``METAINFO`` gives them.

        Args:
            data_root (str): The data set's root folder.

        Returns:
            Sequence[str]: Class names in label order. The base class has no
            default and raises ``ValueError``.
        """
        raise ValueError(f'{type(self).__name__} has no default class list: '
                         'pass classes=[...] or a class file')

    def load_class_file(self, path: str) -> List[str]:
        """Read class names from a text file, one name per line, in order.

        Blank lines are skipped; surrounding white space is stripped.

        Args:
            path (str): The class file.

        Returns:
            list[str]: The class names in file order.
        """
        with open(path, encoding='utf-8') as f:
            return [line.strip() for line in f if line.strip()]

    @property
    def class_to_idx(self) -> Dict[str, int]:
        """dict[str, int]: class name -> label index."""
        return {c: i for i, c in enumerate(self.metainfo['classes'])}

    @property
    def CLASSES(self) -> Tuple[str, ...]:
        """tuple[str]: The class names (mmpretrain's spelling)."""
        return tuple(self.metainfo['classes'])

    # ------------------------------------------------------------------
    # rows
    # ------------------------------------------------------------------
    def parse_ann_file(self, ann_file: str) -> List[Dict[str, Any]]:
        """Parse the index file into rows; each subclass implements this.

        Args:
            ann_file (str): The index file (already joined with data_root).

        Returns:
            list[dict]: One dict per clip with ``'clip_id'`` (str),
            ``'label'`` (str, the class name as written in the index),
            ``'line'`` (int, 1-based line number in ``ann_file``) and
            optionally ``'audio_start'`` / ``'audio_end'`` (float seconds).
        """
        raise NotImplementedError

    def _clip_paths(self, clip_id: str) -> Dict[str, Optional[str]]:
        """The audio / spectrogram / frame paths of one clip (or None)."""
        paths: Dict[str, Optional[str]] = dict(
            audio_path=None, spec_path=None, frames_dir=None)
        if 'audio' in self.modalities:
            key = 'audio_path' if self.audio_format == 'wav' else 'spec_path'
            paths[key] = osp.join(self.data_root,
                                  self.audio_tmpl.format(clip_id=clip_id))
        if 'visual' in self.modalities:
            paths['frames_dir'] = osp.join(
                self.data_root, self.frames_tmpl.format(clip_id=clip_id))
        return paths

    @staticmethod
    def _first_missing(paths: Dict[str, Optional[str]]) -> Optional[str]:
        """The first required path that does not exist, else None."""
        for key in ('audio_path', 'spec_path'):
            if paths[key] is not None and not osp.isfile(paths[key]):
                return paths[key]
        frames_dir = paths['frames_dir']
        if frames_dir is not None and not osp.isdir(frames_dir):
            return frames_dir
        return None

    def load_data_list(self) -> List[dict]:
        """Resolve every row of ``ann_file`` into a data info dict.

        Returns:
            list[dict]: The data infos of the rows whose files exist, in
            index order (keys: see the class docstring).
        """
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'ann_file {self.ann_file} does not exist')
        class_to_idx = self.class_to_idx
        data_list: List[dict] = []
        skipped: List[str] = []
        for row in self.parse_ann_file(self.ann_file):
            label = row['label']
            if label not in class_to_idx:
                raise ValueError(
                    f'unknown label {label!r} in row {row["line"]} of '
                    f'{self.ann_file} (classes: {list(class_to_idx)})')
            clip_id = row['clip_id']
            paths = self._clip_paths(clip_id)
            missing = self._first_missing(paths)
            if missing is not None:
                if self.strict:
                    raise FileNotFoundError(
                        f'{missing} (clip {clip_id!r}, row {row["line"]} of '
                        f'{self.ann_file}) does not exist')
                skipped.append(missing)
                continue
            info: Dict[str, Any] = dict(
                clip_id=clip_id, gt_label=int(class_to_idx[label]), **paths)
            for key in ('audio_start', 'audio_end'):
                if key in row:
                    info[key] = float(row[key])
            data_list.append(info)
        # one warning per index file, not one per row
        self.warn_skipped(skipped, len(data_list), 'files are')
        return data_list
