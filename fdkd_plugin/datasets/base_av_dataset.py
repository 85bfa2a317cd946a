"""The base class shared by the audio-visual classification data sets."""
import logging
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.logging import print_log

from .checks import (FRAME_EXTENSIONS, RowSkips, WavHeader, has_frames,
                     missing_index_error, read_index_lines, read_wav_header,
                     require_rows)
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
    2. drops a row that repeats an earlier row's clip (same clip id, and
       same event span where the index gives one): it would be trained on
       twice. The same clip with another label raises ``ValueError`` naming
       both rows;
    3. resolves the clip's files from path templates relative to
       ``data_root`` (``'{clip_id}'`` is replaced by the row's clip id);
    4. checks the files of the requested ``modalities``: the audio file
       (wav) or spectrogram (pkl / npy) for ``'audio'``, the frame folder for
       ``'visual'`` must exist; with ``check_contents`` (the default) a
       ``.wav`` file must also be whole (its header is read, not its
       samples: not a WAV, cut short, no samples) and the frame folder must
       hold a frame file.

    A row dropped by 2. or 4. is skipped, and ONE ``UserWarning`` per index
    file counts the skipped rows by reason, quoting the first of each; with
    ``strict=True`` the first such row raises instead (``FileNotFoundError``
    for a missing file, ``ValueError`` otherwise). An index file that does
    not exist raises ``FileNotFoundError`` saying how to prepare the data set
    (:attr:`PREPARE`); an index without rows, or whose rows are all skipped,
    raises ``ValueError``. Index files are read by
    :mod:`fdkd_plugin.datasets.checks` (UTF-8 with or without a byte-order
    mark, any line ends, blank lines skipped; another encoding raises naming
    the line).

    Clips shorter than the ``duration`` of a ``LoadAudio`` in the pipeline
    are repeated to length by it (the field's protocol: CREMA-D clips last
    1 to 5 s and are tiled to 3 s): the data set logs their count once, and
    ``LoadAudio(short_clip='error')`` makes them an error at build instead.

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
        strict (bool): Raise on the first row that would be skipped (a
            missing or damaged file, a repeated row). Defaults to False.
        check_contents (bool): Read each wav's header and list each frame
            folder at build (about 20 us a clip on a warm page cache); False
            only checks that the files exist. Defaults to True.
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
    #: How to prepare the data set, quoted when its index file is missing.
    PREPARE: str = 'see the class docstring for the layout'
    #: The row format of the index, quoted when it holds no row.
    ROW_FORMAT: str = 'clip,label'

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
                 check_contents: bool = True,
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
        self.check_contents = bool(check_contents)

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

        Blank lines are skipped; surrounding white space is stripped; read
        by :func:`~fdkd_plugin.datasets.checks.read_index_lines`.

        Args:
            path (str): The class file.

        Returns:
            list[str]: The class names in file order.
        """
        return [line.strip() for _, line in read_index_lines(path)]

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

    def _file_problem(
            self, paths: Dict[str, Optional[str]]
    ) -> Tuple[Optional[Tuple[str, str, type]], Optional[WavHeader]]:
        """The first problem of a clip's files, and its wav header.

        Returns:
            tuple: ``((reason, message, error type) or None, WavHeader or
            None)``; the header only with ``check_contents`` and a wav.
        """
        header = None
        for key in ('audio_path', 'spec_path'):
            path = paths[key]
            if path is None:
                continue
            if not osp.isfile(path):
                return ('rows whose files are missing', f'{path} does not '
                        'exist', FileNotFoundError), None
            if self.check_contents and path.lower().endswith('.wav'):
                try:
                    header = read_wav_header(path)
                except (ValueError, OSError) as err:
                    return ('rows whose wav is damaged', str(err),
                            ValueError), None
        frames_dir = paths['frames_dir']
        if frames_dir is not None:
            if not osp.isdir(frames_dir):
                return ('rows whose files are missing', f'{frames_dir} does '
                        'not exist', FileNotFoundError), None
            if self.check_contents and not has_frames(frames_dir):
                return ('rows whose frame folder is empty',
                        f'frame folder {frames_dir} holds no '
                        f'{"/".join(FRAME_EXTENSIONS)} file',
                        FileNotFoundError), None
        return None, header

    def _audio_transforms(self) -> List[Any]:
        """The ``LoadAudio`` transforms at the top level of the pipeline."""
        from .transforms.loading import LoadAudio
        return [
            t for t in getattr(self.pipeline, 'transforms', ())
            if isinstance(t, LoadAudio) and t.duration is not None
        ]

    def _check_short_clips(self, lengths: List[Tuple[float, str]]) -> None:
        """Report (or refuse) clips shorter than LoadAudio's duration.

        Args:
            lengths (list[tuple[float, str]]): Seconds of each kept clip (of
                its event span where it has one) and where it comes from.
        """
        for load in self._audio_transforms():
            short = [(s, where) for s, where in lengths if s < load.duration]
            if not short:
                continue
            seconds, where = min(short)
            if load.short_clip == 'error':
                raise ValueError(
                    f'{where} lasts {seconds:.3f} s, shorter than '
                    f'LoadAudio(duration={load.duration}) with '
                    f"short_clip='error' ({len(short)} of {len(lengths)} "
                    f'clips of {self.ann_file} are); remove those rows, '
                    "lower duration or set short_clip='tile'")
            print_log(
                f'{type(self).__name__}: {len(short)} of {len(lengths)} clips '
                f'of {self.ann_file} are shorter than LoadAudio(duration='
                f'{load.duration}) and are repeated to length '
                f"(short_clip='tile'); the shortest: {where}, "
                f'{seconds:.3f} s',
                logger='current',
                level=logging.INFO)

    def load_data_list(self) -> List[dict]:
        """Resolve every row of ``ann_file`` into a data info dict.

        Returns:
            list[dict]: The data infos of the kept rows, in index order
            (keys: see the class docstring).
        """
        owner = type(self).__name__
        if not osp.isfile(self.ann_file):
            raise missing_index_error(owner, self.ann_file, self.PREPARE)
        rows = self.parse_ann_file(self.ann_file)
        require_rows(rows, self.ann_file, self.ROW_FORMAT)
        class_to_idx = self.class_to_idx
        data_list: List[dict] = []
        skips = RowSkips(owner, self.ann_file, self.strict)
        seen: Dict[tuple, Tuple[int, str]] = {}  # key -> (line, label)
        lengths: List[Tuple[float, str]] = []
        for row in rows:
            label, line, clip_id = row['label'], row['line'], row['clip_id']
            where = f'row {line} of {self.ann_file}'
            if label not in class_to_idx:
                raise ValueError(
                    f'unknown label {label!r} in {where} (classes: '
                    f'{list(class_to_idx)}); fix the row, or pass classes= '
                    'with every label of the index')
            key = (clip_id, row.get('audio_start'), row.get('audio_end'))
            if key in seen:
                first_line, first_label = seen[key]
                if first_label != label:
                    raise ValueError(
                        f'clip {clip_id!r} is labelled {first_label!r} in '
                        f'row {first_line} and {label!r} in {where}; keep '
                        'the right one of the two rows')
                skips.skip(
                    'repeated rows',
                    f'clip {clip_id!r} in {where} repeats row {first_line}; '
                    'remove one of them', ValueError)
                continue
            seen[key] = (line, label)
            paths = self._clip_paths(clip_id)
            problem, header = self._file_problem(paths)
            if problem is not None:
                reason, message, error = problem
                skips.skip(reason, f'{message} (clip {clip_id!r}, {where})',
                           error)
                continue
            info: Dict[str, Any] = dict(
                clip_id=clip_id, gt_label=int(class_to_idx[label]), **paths)
            for k in ('audio_start', 'audio_end'):
                if k in row:
                    info[k] = float(row[k])
            if header is not None:
                seconds = header.frames / header.sample_rate
                end = min(info.get('audio_end', seconds), seconds)
                lengths.append((end - info.get('audio_start', 0.0),
                                f'{paths["audio_path"]} ({where})'))
            data_list.append(info)
        # one warning per index file, not one per row
        skips.finish(len(data_list))
        self._check_short_clips(lengths)
        return data_list
