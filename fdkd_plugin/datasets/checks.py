"""Checks the data sets share: reading index files, repeated rows, the one
warning about skipped rows, and cheap whole-file checks of WAV files and
frame folders.

Functions, not methods, so that data sets of different hosts (MMEngine's
``BaseDataset`` children and mmseg's ``BaseSegDataset`` child) use the same
code. Every error names the file, the line (1-based, as an editor counts
them) or the value, and says what to do.

Index files are read as UTF-8; a UTF-8 byte-order mark (written by Excel and
Notepad) is dropped, ``\\r\\n`` / ``\\r`` line ends are read as ``\\n``, and
blank lines are skipped, all without shifting the line numbers of the
messages.
"""
import csv
import io
import os
import os.path as osp
import re
import warnings
from typing import Callable, Dict, List, NamedTuple, Tuple, Type

__all__ = [
    'UTF8_BOM', 'FRAME_EXTENSIONS', 'decode_index', 'read_index_lines',
    'read_index_csv', 'require_rows', 'missing_index_error', 'RowSkips',
    'WavHeader', 'WavTruncatedError', 'read_wav_header', 'parse_wav_bytes',
    'has_frames', 'jpeg_is_truncated'
]

#: The UTF-8 byte-order mark.
UTF8_BOM: bytes = b'\xef\xbb\xbf'
#: File names (lower-case endings) that count as frames of a clip folder.
FRAME_EXTENSIONS: Tuple[str, ...] = ('.jpg', '.jpeg', '.png')

_NEWLINE = re.compile(r'\r\n|\r|\n')


# ---------------------------------------------------------------------------
# index files
# ---------------------------------------------------------------------------
def decode_index(path: str) -> str:
    """The text of an index file: UTF-8, without a leading byte-order mark.

    Args:
        path (str): The index file.

    Returns:
        str: The decoded text (line ends untouched).

    Raises:
        ValueError: A byte sequence that is not UTF-8, naming the file, the
            line, the byte offset in that line and the byte.
    """
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as err:
        line = data.count(b'\n', 0, err.start) + 1
        column = err.start - (data.rfind(b'\n', 0, err.start) + 1) + 1
        raise ValueError(
            f'{path} line {line}, byte {column}: 0x{data[err.start]:02x} is '
            'not UTF-8 (the file was saved in another encoding, e.g. '
            'Latin-1); convert it to UTF-8, e.g. `iconv -f latin1 -t utf-8 '
            'IN > OUT`') from None


def read_index_lines(path: str) -> List[Tuple[int, str]]:
    """The non-blank lines of an index file with their line numbers.

    Args:
        path (str): The index file.

    Returns:
        list[tuple[int, str]]: ``(line number, line)`` for every line that
        is not blank, line ends removed, in file order.
    """
    return [(number, line)
            for number, line in enumerate(
                _NEWLINE.split(decode_index(path)), start=1)
            if line.strip()]


def read_index_csv(path: str,
                   delimiter: str = ',') -> List[Tuple[int, List[str]]]:
    """The rows of a csv index, fields stripped, blank rows dropped.

    Args:
        path (str): The csv file.
        delimiter (str): The field separator. Defaults to ``','``.

    Returns:
        list[tuple[int, list[str]]]: ``(line number, fields)`` per row; the
        line number is the row's last line (a quoted field may span lines).

    Raises:
        ValueError: Not UTF-8 (see :func:`decode_index`) or not csv (a
            stray or unclosed quote), naming the file and the line.
    """
    # strict: a stray quote is an error, not a silently merged field
    reader = csv.reader(
        io.StringIO(decode_index(path), newline=''),
        delimiter=delimiter,
        strict=True)
    rows: List[Tuple[int, List[str]]] = []
    try:
        for fields in reader:
            fields = [x.strip() for x in fields]
            if any(fields):
                rows.append((reader.line_num, fields))
    except csv.Error as err:
        raise ValueError(f'{path} line {reader.line_num}: not valid csv '
                         f'({err})') from None
    return rows


def require_rows(rows: list, path: str, expected: str) -> None:
    """Raise when an index file holds no row.

    Args:
        rows (list): The parsed rows.
        path (str): The index file.
        expected (str): The row format, for the message.

    Raises:
        ValueError: ``rows`` is empty.
    """
    if not rows:
        raise ValueError(f'{path} holds no rows (expected lines like '
                         f'"{expected}"): the file is empty or was cut; '
                         'write or copy it again')


def missing_index_error(owner: str, path: str,
                        how_to: str) -> FileNotFoundError:
    """The error for an index file that does not exist.

    Args:
        owner (str): The data set class name.
        path (str): The index file.
        how_to (str): How to prepare the data set (converter, doc).

    Returns:
        FileNotFoundError: To raise.
    """
    return FileNotFoundError(
        f'{owner}: ann_file {path} does not exist; the data set is not '
        f'prepared yet (or data_root is wrong): {how_to}')


class RowSkips:
    """Counts the rows a data set drops, by reason, for ONE warning.

    With ``strict=True`` the first dropped row raises instead. When every row
    is dropped an error is raised whatever ``strict`` is: an empty data set
    cannot train, and MMEngine would fail later without naming a file.

    Args:
        owner (str): The data set class name, for the messages.
        ann_file (str): The index file.
        strict (bool): Raise on the first skip.
    """

    def __init__(self, owner: str, ann_file: str, strict: bool) -> None:
        self.owner = owner
        self.ann_file = ann_file
        self.strict = bool(strict)
        self.reasons: Dict[str, List[str]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.reasons.values())

    def skip(self,
             reason: str,
             message: str,
             error: Type[Exception] = FileNotFoundError) -> None:
        """Drop one row (or raise ``error(message)`` when ``strict``).

        Args:
            reason (str): A plural noun phrase counted in the warning, e.g.
                ``'rows whose files are missing'``.
            message (str): What is wrong with the row, naming the file and
                line; the warning quotes the first of each reason.
            error (type): The exception class raised when ``strict``.
        """
        if self.strict:
            raise error(message)
        self.reasons.setdefault(reason, []).append(message)

    def finish(self, kept: int) -> None:
        """Warn once about the dropped rows, or raise if none was kept.

        Args:
            kept (int): How many rows were kept.

        Raises:
            ValueError: Every row was dropped.
        """
        total = len(self)
        if not total:
            return
        parts = '; '.join(f'{len(msgs)} {reason} (e.g. {msgs[0]})'
                          for reason, msgs in self.reasons.items())
        if kept == 0:
            raise ValueError(
                f'{self.owner}: none of the {total} rows of {self.ann_file} '
                f'can be used: {parts}; check data_root and that the data '
                'set is prepared')
        warnings.warn(
            f'{self.owner}: skipped {total} of {total + kept} rows of '
            f'{self.ann_file}: {parts}; pass strict=True to raise instead',
            UserWarning,
            stacklevel=3)


# ---------------------------------------------------------------------------
# audio and frame files
# ---------------------------------------------------------------------------
class WavHeader(NamedTuple):
    """What the header of a WAV file says."""
    frames: int  #: samples per channel present in the file
    sample_rate: int  #: Hz
    channels: int
    #: bytes from the start of the file to the first sample
    data_offset: int = 0
    #: bits per sample (the format chunk's)
    bits: int = 0
    #: the format chunk's tag: 1 integer PCM, 3 IEEE float, 0xFFFE extensible
    format_tag: int = 0
    big_endian: bool = False  #: a ``RIFX`` file


class WavTruncatedError(ValueError):
    """A WAV file whose data chunk declares more bytes than follow it."""


def _parse_wav(read_at: Callable[[int, int], bytes], size: int,
               path: str) -> WavHeader:
    """The chunk walk of :func:`read_wav_header` over ``read_at(pos, n)``
    (the ``n`` bytes at ``pos``) of a file of ``size`` bytes; a header of
    0 frames is returned, not refused."""
    head = read_at(0, 12)
    if len(head) < 12 or head[8:12] != b'WAVE' or \
            head[:4] not in (b'RIFF', b'RIFX', b'RF64'):
        raise ValueError(
            f'audio file {path} is not a WAV file (it starts with '
            f'{head[:12]!r}); convert it to WAV or fix audio_tmpl')
    order = 'big' if head[:4] == b'RIFX' else 'little'
    rf64 = head[:4] == b'RF64'
    pos, fmt = 12, None
    while pos + 8 <= size:
        chunk = read_at(pos, 8)
        cid, csize = chunk[:4], int.from_bytes(chunk[4:], order)
        if cid == b'fmt ':
            fmt = read_at(pos + 8, 16)
            if len(fmt) < 16:
                break
        elif cid == b'data':
            if fmt is None:
                raise ValueError(f'audio file {path} has its samples '
                                 'before its format chunk; write it '
                                 'again as a plain WAV')
            channels = int.from_bytes(fmt[2:4], order)
            rate = int.from_bytes(fmt[4:8], order)
            align = int.from_bytes(fmt[12:14], order)
            if channels < 1 or rate < 1 or align < 1:
                raise ValueError(
                    f'audio file {path} has a broken format chunk '
                    f'({channels} channels, {rate} Hz, {align} bytes per '
                    'frame); write it again')
            present = size - pos - 8
            # 0 / 0xFFFFFFFF: a streaming writer that never came back to
            # fill in the size; RF64 keeps the size in its ds64 chunk
            unknown = rf64 or csize in (0, 0xFFFFFFFF)
            if not unknown and csize > present:
                raise WavTruncatedError(
                    f'audio file {path} is truncated: its header '
                    f'declares {csize // align} samples, the file holds '
                    f'{present // align}; copy or extract it again')
            return WavHeader(
                frames=(present if unknown else csize) // align,
                sample_rate=rate,
                channels=channels,
                data_offset=pos + 8,
                bits=int.from_bytes(fmt[14:16], order),
                format_tag=int.from_bytes(fmt[0:2], order),
                big_endian=order == 'big')
        pos += 8 + csize + (csize & 1)  # chunks are padded to even size
    raise ValueError(f'audio file {path} has no data chunk (truncated, or not '
                     'a WAV file); copy or extract it again')


def read_wav_header(path: str) -> WavHeader:
    """Read the RIFF chunk headers of a WAV file (not its samples).

    Catches the damaged files a decoder reads without complaint: a file cut
    short (an interrupted copy or download: its data chunk declares more
    bytes than follow it; decoders return what is there), a file without
    samples, a file that is not a WAV at all.

    Args:
        path (str): A ``RIFF``/``RIFX`` WAVE file. ``RF64`` files are not
            checked (their sizes live in another chunk): the samples that
            follow the header are counted.

    Returns:
        WavHeader: frames, sample rate and channels (and where the samples
        lie and how they are stored).

    Raises:
        ValueError: The file is not a WAV file, is truncated
            (:class:`WavTruncatedError`) or holds no samples; the message
            names the file and says what to do.
        OSError: The file cannot be opened.
    """
    size = osp.getsize(path)
    with open(path, 'rb') as f:

        def read_at(pos: int, n: int) -> bytes:
            f.seek(pos)
            return f.read(n)

        header = _parse_wav(read_at, size, path)
    if header.frames == 0:
        raise ValueError(f'audio file {path} holds no samples; '
                         'extract it again or remove its row')
    return header


def parse_wav_bytes(data: bytes, path: str) -> WavHeader:
    """The header of a WAV file read whole into ``data``, as
    :func:`read_wav_header` reads it from disk, except that a file without
    samples gives ``frames=0`` instead of an error.

    Args:
        data (bytes): The whole file.
        path (str): Its name, for the error messages.

    Returns:
        WavHeader: The header.

    Raises:
        ValueError: Not a WAV file, or truncated (:class:`WavTruncatedError`).
    """
    return _parse_wav(lambda pos, n: data[pos:pos + n], len(data), path)


def has_frames(frames_dir: str) -> bool:
    """Whether a folder holds at least one frame file (by name).

    Args:
        frames_dir (str): The clip's frame folder.

    Returns:
        bool: True when a file ends with one of :data:`FRAME_EXTENSIONS`.
    """
    with os.scandir(frames_dir) as entries:
        return any(e.name.lower().endswith(FRAME_EXTENSIONS) for e in entries)


def jpeg_is_truncated(data: bytes, tail: int = 1024) -> bool:
    """Whether JPEG bytes lack their end-of-image marker ``FF D9``.

    OpenCV decodes a JPEG that was cut short without an error (it prints
    "Premature end of JPEG file" and fills the rest grey). ``FF D9`` can only
    be the end marker (``FF`` inside the compressed data is stuffed as
    ``FF 00``), and a whole file ends with it, give or take a few bytes of
    padding some writers add: it must be in the last ``tail`` bytes.

    Args:
        data (bytes): The file's bytes.
        tail (int): How many trailing bytes may follow the marker.
            Defaults to 1024.

    Returns:
        bool: True when the marker is missing from the last ``tail`` bytes.
    """
    return data.rfind(b'\xff\xd9', max(0, len(data) - tail)) < 0
