"""The bad-input matrix of the data side (issue 13, item 3).

One test per case: a damaged WAV, frame folder, frame file or index file
gives an error that names the file / line / value and says what to do, or a
counted skip with exactly one warning (``strict=True`` raises instead). No
case may end in a traceback from deep inside a library, or in a silently
wrong result. Tiny fixtures only; nothing here trains.
"""
import os.path as osp
import re
import warnings
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np
import pytest
import soundfile

import fdkd_plugin.datasets.base_av_dataset as base_av_dataset
from fdkd_plugin.datasets import (AVDigitsDataset, AVEDataset,
                                  CrisisMMDDataset, CremaDDataset, LoadAudio,
                                  LoadFrames, NYUDepthV2Dataset,
                                  VGGSoundDataset)
from fdkd_plugin.datasets.checks import (jpeg_is_truncated, read_index_csv,
                                         read_index_lines, read_wav_header)
from fdkd_plugin.datasets.crisismmd import CRISISMMD_COLUMNS

ROWS = [('c0', 'ANG'), ('c1', 'NEU'), ('c2', 'HAP')]
SR = 22050


def _load(root, ann='train.csv', **kwargs) -> CremaDDataset:
    return CremaDDataset(
        ann_file=ann, data_root=str(root), serialize_data=False, **kwargs)


def _ids(ds) -> List[str]:
    return [ds.get_data_info(i)['clip_id'] for i in range(len(ds))]


def _one_warning(record) -> str:
    """The single skip warning among the recorded ones."""
    msgs = [str(w.message) for w in record if 'skipped' in str(w.message)]
    assert len(msgs) == 1, msgs
    return msgs[0]


def _wav_path(root: Path, clip: str) -> Path:
    return root / 'AudioWAV' / f'{clip}.wav'


# =========================================================================
# WAV files
# =========================================================================
def test_truncated_wav_is_skipped_with_one_warning_or_raises(av_writer):
    root = av_writer.cremad(ROWS)
    path = _wav_path(root, 'c1')
    data = path.read_bytes()  # 44-byte header + 5512 int16 samples
    path.write_bytes(data[:44 + 2 * 2000])  # an interrupted copy
    with pytest.warns(UserWarning) as record:
        ds = _load(root)
    msg = _one_warning(record)
    assert 'skipped 1 of 3 rows' in msg
    assert f'audio file {path} is truncated: its header declares 5512 ' \
        'samples, the file holds 2000; copy or extract it again' in msg
    assert "(clip 'c1', row 2 of" in msg
    assert _ids(ds) == ['c0', 'c2']
    with pytest.raises(ValueError, match=re.escape(str(path)) +
                       r' is truncated.*row 2 of .*train\.csv'):
        _load(root, strict=True)
    # the transform, met directly, refuses it too (16-bit fast path) ...
    with pytest.raises(ValueError, match=re.escape(str(path)) +
                       ' is truncated: its header declares 5512 samples, '
                       'the file holds 2000'):
        LoadAudio()(dict(audio_path=str(path)))
    # ... and so does the soundfile path (float WAV)
    flt = av_writer.root / 'float.wav'
    av_writer.wav(flt, np.zeros(1000, np.float32), subtype='FLOAT')
    flt.write_bytes(flt.read_bytes()[:-400])
    with pytest.raises(ValueError, match=r'float\.wav is truncated: its '
                       'header declares 1000 samples, the file holds 900'):
        LoadAudio()(dict(audio_path=str(flt)))


def test_truncated_wav_kept_without_check_contents(av_writer):
    root = av_writer.cremad(ROWS)
    path = _wav_path(root, 'c1')
    path.write_bytes(path.read_bytes()[:44 + 2 * 2000])
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ds = _load(root, check_contents=False)
    assert _ids(ds) == ['c0', 'c1', 'c2']  # the option's effect


def test_empty_wav_is_skipped_and_refused_by_the_loader(av_writer):
    root = av_writer.cremad(ROWS)
    path = _wav_path(root, 'c0')
    soundfile.write(str(path), np.zeros(0, np.int16), SR, subtype='PCM_16')
    with pytest.warns(UserWarning) as record:
        ds = _load(root)
    msg = _one_warning(record)
    assert 'skipped 1 of 3 rows' in msg
    assert f'1 rows whose wav is damaged (e.g. audio file {path} holds no ' \
        'samples; extract it again or remove its row' in msg
    assert _ids(ds) == ['c1', 'c2']
    with pytest.raises(ValueError, match=re.escape(str(path)) +
                       r' holds no samples.*row 1 of'):
        _load(root, strict=True)
    with pytest.raises(ValueError, match=re.escape(str(path)) +
                       ' has no samples'):
        LoadAudio()(dict(audio_path=str(path)))


def test_stereo_wav_is_mixed_down_to_the_mean(av_writer):
    """Documented: ``mono=True`` (default) averages the channels."""
    left = np.arange(-500, 500, dtype=np.int16) * 16
    right = np.full(1000, 8192, np.int16)
    path = av_writer.root / 'stereo16.wav'
    av_writer.wav(path, np.stack([left, right], 1), sr=1000)  # PCM_16
    out = LoadAudio(sample_rate=1000, duration=1.0)(
        dict(audio_path=str(path)))
    assert out['audio'].shape == (1000, )
    np.testing.assert_array_equal(out['audio'],
                                  (left / 32768 + right / 32768) / 2)
    both = LoadAudio(sample_rate=1000, duration=1.0, mono=False)(
        dict(audio_path=str(path)))
    assert both['audio'].shape == (2, 1000)


def test_wrong_sample_rate_is_resampled(av_writer):
    """An 8 kHz file read at 16 kHz: twice the samples, the same tone."""
    t = np.arange(8000) / 8000
    path = av_writer.root / 'rate8k.wav'
    av_writer.wav(path, 0.5 * np.sin(2 * np.pi * 200 * t), sr=8000,
                  subtype='FLOAT')
    assert read_wav_header(str(path)).sample_rate == 8000
    out = LoadAudio(sample_rate=16000, duration=1.0)(
        dict(audio_path=str(path)))
    assert out['sample_rate'] == 16000
    assert out['audio'].shape == (16000, )
    expect = 0.5 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)
    np.testing.assert_allclose(out['audio'][200:-200], expect[200:-200],
                               atol=0.01)


@pytest.mark.parametrize('subtype, atol', [('PCM_U8', 1 / 128),
                                           ('PCM_24', 1 / 2**23),
                                           ('PCM_32', 1 / 2**31),
                                           ('FLOAT', 0), ('DOUBLE', 0)])
def test_8bit_24bit_32bit_and_float_wav_load_in_range(av_writer, subtype,
                                                      atol):
    data = np.array([0.0, 0.5, -0.5, 0.25, -1.0, 0.75] * 50)
    path = av_writer.root / f'{subtype}.wav'
    av_writer.wav(path, data, sr=300, subtype=subtype)
    out = LoadAudio(sample_rate=300, duration=1.0)(
        dict(audio_path=str(path)))['audio']
    assert out.dtype == np.float32 and out.shape == (300, )
    assert out.min() >= -1 and out.max() <= 1
    np.testing.assert_allclose(out, data, atol=atol + 1e-7)


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_nan_or_inf_samples_raise_naming_the_file(av_writer, bad):
    data = np.zeros(1000, np.float32)
    data[250] = bad
    path = av_writer.root / 'nan.wav'
    av_writer.wav(path, data, sr=1000, subtype='FLOAT')
    with pytest.raises(ValueError, match=re.escape(str(path)) +
                       r' holds 1 NaN / inf samples \(the first at sample '
                       r'250, 0\.250 s\); write it again or remove its row'):
        LoadAudio(sample_rate=1000, duration=1.0)(dict(audio_path=str(path)))


def test_missing_wav_is_counted_with_one_warning_or_raises(av_writer):
    root = av_writer.cremad(ROWS, missing_audio=['c1', 'c2'])
    with pytest.warns(UserWarning) as record:
        ds = _load(root, modalities=('audio', ))
    msg = _one_warning(record)
    assert 'skipped 2 of 3 rows' in msg
    assert f'2 rows whose files are missing (e.g. {_wav_path(root, "c1")} ' \
        "does not exist (clip 'c1', row 2 of" in msg
    assert msg.endswith('pass strict=True to raise instead')
    assert _ids(ds) == ['c0']
    with pytest.raises(FileNotFoundError,
                       match=re.escape(str(_wav_path(root, 'c1'))) +
                       r' does not exist \(clip .c1., row 2 of'):
        _load(root, modalities=('audio', ), strict=True)


def test_non_wav_file_is_skipped_and_refused_by_the_loader(av_writer):
    root = av_writer.cremad(ROWS)
    path = _wav_path(root, 'c2')
    path.write_bytes(b'ID3\x03\x00\x00\x00 an mp3 named .wav')
    with pytest.warns(UserWarning) as record:
        ds = _load(root)
    msg = _one_warning(record)
    assert f"audio file {path} is not a WAV file (it starts with b'ID3" \
        in msg and 'convert it to WAV or fix audio_tmpl' in msg
    assert _ids(ds) == ['c0', 'c1']
    with pytest.raises(OSError, match=r'cannot read audio file ' +
                       re.escape(str(path)) + ': soundfile: '):
        LoadAudio()(dict(audio_path=str(path)))


def test_short_clips_are_tiled_and_logged_once_or_refused(av_writer,
                                                          monkeypatch):
    """Documented decision: a whole clip shorter than ``duration`` is
    repeated to length (the field's protocol); the data set logs the count
    once; ``short_clip='error'`` refuses them at build."""
    root = av_writer.cremad(ROWS)  # 0.25 s clips
    av_writer.wav(_wav_path(root, 'c1'), seconds=0.1)
    logs: List[str] = []
    monkeypatch.setattr(base_av_dataset, 'print_log',
                        lambda msg, **kw: logs.append(msg))
    _load(root, pipeline=[dict(type='fdkd.LoadAudio', duration=0.2)])
    assert len(logs) == 1
    assert '1 of 3 clips' in logs[0] and 'duration=0.2' in logs[0]
    assert f'the shortest: {_wav_path(root, "c1")} (row 2 of' in logs[0]
    assert '0.100 s' in logs[0]
    with pytest.raises(ValueError, match=re.escape(str(
            _wav_path(root, 'c1'))) + r' \(row 2 of .*\) lasts 0\.100 s, '
                       r"shorter than LoadAudio\(duration=0\.2\) with "
                       r"short_clip='error' \(1 of 3 clips"):
        _load(root, pipeline=[
            dict(type='fdkd.LoadAudio', duration=0.2, short_clip='error')
        ])
    with pytest.raises(ValueError, match=r"gives 0\.100 s, shorter than "
                       r"duration=0\.2 s \(short_clip='error'\)"):
        LoadAudio(duration=0.2, short_clip='error')(
            dict(audio_path=str(_wav_path(root, 'c1'))))
    with pytest.raises(ValueError, match="short_clip='pad' must be one of"):
        LoadAudio(short_clip='pad')


# =========================================================================
# frame folders and frame files
# =========================================================================
def test_empty_frame_folder_is_skipped_and_refused_by_the_loader(av_writer):
    root = av_writer.cremad(ROWS)
    folder = root / 'Image-01-FPS' / 'c0'
    for f in folder.iterdir():
        f.unlink()
    (folder / 'notes.txt').write_text('not a frame')
    with pytest.warns(UserWarning) as record:
        ds = _load(root)
    msg = _one_warning(record)
    assert f'1 rows whose frame folder is empty (e.g. frame folder {folder}' \
        ' holds no .jpg/.jpeg/.png file' in msg
    assert _ids(ds) == ['c1', 'c2']
    with pytest.raises(FileNotFoundError, match=re.escape(str(folder)) +
                       r' holds no .*row 1 of'):
        _load(root, strict=True)
    with pytest.raises(FileNotFoundError,
                       match=re.escape(str(folder)) + ' holds no'):
        LoadFrames()(dict(frames_dir=str(folder)))


def test_missing_frame_folder_is_counted_with_one_warning(av_writer):
    root = av_writer.cremad(ROWS, missing_frames=['c2'])
    with pytest.warns(UserWarning) as record:
        ds = _load(root)
    msg = _one_warning(record)
    assert 'skipped 1 of 3 rows' in msg
    assert osp.join('Image-01-FPS', 'c2') + ' does not exist' in msg
    assert _ids(ds) == ['c0', 'c1']


def _frame(av_writer, name='f.jpg', size=(16, 16)) -> Path:
    path = av_writer.root / 'clip' / name
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


@pytest.mark.parametrize('damage, match', [
    ('empty', r'is empty \(0 bytes\)'),
    ('truncated', r'is truncated \(no JPEG end marker\)'),
    ('corrupt', r'cannot decode frame file .*f\.jpg \(error\)'),
])
def test_damaged_jpeg_raises_naming_the_file(av_writer, damage, match):
    path = _frame(av_writer)
    data = path.read_bytes()
    assert not jpeg_is_truncated(data)
    if damage == 'empty':
        path.write_bytes(b'')
    elif damage == 'truncated':
        path.write_bytes(data[:len(data) // 2])
    else:
        path.write_bytes(b'\xff\xd8 this is no jpeg \xff\xd9')
    with pytest.raises(OSError, match=re.escape(str(path))) as info:
        LoadFrames(test_mode=True)(dict(frames_dir=str(path.parent)))
    assert re.search(match, str(info.value))
    assert str(info.value).endswith(
        "extract this clip's frames again or delete the file")


def test_corrupt_png_raises_naming_the_file(av_writer):
    path = _frame(av_writer, name='f.png')
    path.write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    with pytest.raises(OSError, match=r'cannot decode frame file ' +
                       re.escape(str(path))):
        LoadFrames(test_mode=True)(dict(frames_dir=str(path.parent)))


def test_grayscale_jpeg_loads_as_three_equal_channels(av_writer):
    path = av_writer.root / 'grey' / 'f.jpg'
    path.parent.mkdir(parents=True)
    assert cv2.imwrite(str(path), np.full((8, 8), 100, np.uint8))
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ndim == 2
    out = LoadFrames(test_mode=True)(
        dict(frames_dir=str(path.parent)))['visual']
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out, 100, atol=1)
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    np.testing.assert_array_equal(out[..., 1], out[..., 2])


# =========================================================================
# index files (csv / txt)
# =========================================================================
def _write(root: Path, name: str, text: str, encoding='utf-8') -> None:
    (root / name).write_bytes(text.encode(encoding))


def test_csv_header_row_is_skipped(av_writer):
    root = av_writer.cremad(ROWS, header='clip,emotion')
    ds = _load(root)
    assert _ids(ds) == ['c0', 'c1', 'c2']
    assert ds.get_gt_labels().tolist() == [5, 0, 1]


def test_utf8_bom_does_not_change_the_first_clip_id(av_writer):
    root = av_writer.cremad(ROWS)
    _write(root, 'train.csv', '\ufeffc0,ANG\nc1,NEU\nc2,HAP\n')
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # c0 is found, not "missing"
        ds = _load(root)
    assert _ids(ds) == ['c0', 'c1', 'c2']
    # a BOM before a header row too
    _write(root, 'train.csv', '\ufeffclip,label\nc0,ANG\n')
    assert _ids(_load(root)) == ['c0']


def test_crlf_line_ends_and_blank_lines(av_writer):
    root = av_writer.cremad(ROWS)
    _write(root, 'train.csv', 'c0,ANG\r\n\r\n  \r\nc1,NEU\r\nc2,HAP\r\n\r\n')
    ds = _load(root)
    assert _ids(ds) == ['c0', 'c1', 'c2']
    assert ds.get_gt_labels().tolist() == [5, 0, 1]
    # the line numbers of messages still count the blank lines
    _write(root, 'train.csv', 'c0,ANG\r\n\r\nc1,XYZ\r\n')
    with pytest.raises(ValueError, match=r"unknown label 'XYZ' in row 3 of"):
        _load(root)
    # an old-Mac \r alone ends a line too
    assert read_index_lines(str(root / 'train.csv')) == [(1, 'c0,ANG'),
                                                         (3, 'c1,XYZ')]


def test_latin1_byte_raises_naming_file_and_line(av_writer):
    root = av_writer.cremad(ROWS)
    _write(root, 'train.csv', 'c0,ANG\nc1_caf\xe9,NEU\n', encoding='latin-1')
    with pytest.raises(ValueError, match=re.escape(str(root / 'train.csv')) +
                       r' line 2, byte 7: 0xe9 is not UTF-8 .*Latin-1.*'
                       r'iconv -f latin1 -t utf-8'):
        _load(root)


def test_unknown_label_names_row_label_file_and_fix(av_writer):
    root = av_writer.cremad([ROWS[0], ('c9', 'Angry')])
    with pytest.raises(ValueError, match=r"unknown label 'Angry' in row 2 of "
                       r'.*train\.csv \(classes: .*\); fix the row, or pass '
                       'classes='):
        _load(root)


def test_duplicate_rows_are_skipped_with_one_warning_or_raise(av_writer):
    root = av_writer.cremad(ROWS)
    _write(root, 'train.csv', 'c0,ANG\nc1,NEU\nc0,ANG\nc2,HAP\nc1,NEU\n')
    with pytest.warns(UserWarning) as record:
        ds = _load(root)
    msg = _one_warning(record)
    assert 'skipped 2 of 5 rows' in msg
    assert "2 repeated rows (e.g. clip 'c0' in row 3 of" in msg
    assert 'repeats row 1; remove one of them' in msg
    assert _ids(ds) == ['c0', 'c1', 'c2']  # each clip once
    with pytest.raises(ValueError, match=r"clip 'c0' in row 3 of .* repeats "
                       'row 1'):
        _load(root, strict=True)
    # the same clip with two labels: which one is right is not knowable
    _write(root, 'train.csv', 'c0,ANG\nc1,NEU\nc0,SAD\n')
    with pytest.raises(ValueError, match=r"clip 'c0' is labelled 'ANG' in "
                       r"row 1 and 'SAD' in row 3 of .*train\.csv; keep"):
        _load(root)


def test_ave_same_video_other_span_is_not_a_duplicate(av_writer):
    root = av_writer.ave([('Bark', 'v1', 0, 4), ('Bark', 'v1', 5, 9),
                          ('Bark', 'v1', 0, 4)])
    with pytest.warns(UserWarning) as record:
        ds = AVEDataset(ann_file='trainSet.txt', data_root=str(root))
    assert "clip 'v1' in row 3 of" in _one_warning(record)
    assert [(i['audio_start'], i['audio_end'])
            for i in (ds.get_data_info(0), ds.get_data_info(1))] == [
                (0.0, 4.0), (5.0, 9.0)]


def test_several_skip_reasons_give_one_warning(av_writer):
    root = av_writer.cremad(ROWS + [('c3', 'SAD'), ('c4', 'FEA')],
                            missing_audio=['c1'])
    path = _wav_path(root, 'c2')
    path.write_bytes(path.read_bytes()[:100])
    with open(root / 'train.csv', 'a') as f:
        f.write('c0,ANG\n')
    with pytest.warns(UserWarning) as record:
        ds = _load(root)
    msg = _one_warning(record)
    assert msg.startswith('CremaDDataset: skipped 3 of 6 rows of ')
    assert '1 rows whose files are missing' in msg
    assert '1 rows whose wav is damaged' in msg
    assert '1 repeated rows' in msg
    assert _ids(ds) == ['c0', 'c3', 'c4']


@pytest.mark.parametrize('text', ['', '\n\n', '\ufeff', 'clip,label\n'])
def test_empty_csv_raises_naming_the_file(av_writer, text):
    root = av_writer.cremad(ROWS)
    _write(root, 'train.csv', text)
    with pytest.raises(ValueError, match=re.escape(str(root / 'train.csv')) +
                       r' holds no rows \(expected lines like "clip,label"\)'
                       ': the file is empty or was cut'):
        _load(root)


def test_every_row_skipped_raises_instead_of_an_empty_data_set(av_writer):
    root = av_writer.cremad(ROWS[:2], missing_audio=['c0', 'c1'])
    with pytest.raises(ValueError, match=r'none of the 2 rows of .*train\.csv'
                       r' can be used: 2 rows whose files are missing .*; '
                       'check data_root'):
        _load(root)


def test_malformed_csv_names_the_line(av_writer):
    root = av_writer.cremad(ROWS)
    _write(root, 'train.csv', 'c0,ANG\nc1,"NE"U\nc2,HAP\n')
    with pytest.raises(ValueError, match=r'train\.csv line 2: not valid csv '
                       r"\(',' expected after '\"'\)"):
        _load(root)
    _write(root, 'train.csv', 'c0,ANG\nc1,"NEU\nc2,HAP\n')  # never closed
    with pytest.raises(ValueError, match=r'train\.csv line 3: not valid csv '
                       r'\(unexpected end of data\)'):
        read_index_csv(str(root / 'train.csv'))


def test_vggsound_bom_crlf_header_and_duplicates(av_writer):
    root = av_writer.vggsound([('a', 1, 'cat', 'train'),
                               ('b', 2, 'dog', 'train')])
    _write(root, 'train_tiny.csv', '\ufeffytid,start,label,split\r\n'
           'a,1,cat,train\r\n\r\nb,2,dog,train\r\na,1,cat,train\r\n')
    with pytest.warns(UserWarning) as record:
        ds = VGGSoundDataset(ann_file='train_tiny.csv', data_root=str(root))
    assert "clip 'a_000001' in row 5 of" in _one_warning(record)
    assert ds.metainfo['classes'] == ('cat', 'dog')
    assert _ids(ds) == ['a_000001', 'b_000002']


def test_ave_bom_crlf_header(av_writer):
    root = av_writer.ave([('Bark', 'v1', 0, 4)])
    _write(root, 'trainSet.txt', '\ufeffCategory&VideoID&Quality&StartTime&'
           'EndTime\r\nBark&v1&good&0&4\r\n')
    ds = AVEDataset(ann_file='trainSet.txt', data_root=str(root))
    assert _ids(ds) == ['v1']
    _write(root, 'trainSet.txt', '')
    with pytest.raises(ValueError, match=r'trainSet\.txt holds no rows '
                       r'\(expected lines like "Category&VideoID'):
        AVEDataset(ann_file='trainSet.txt', data_root=str(root))


def test_class_file_with_bom(av_writer):
    root = av_writer.cremad([('c0', 'x'), ('c1', 'y')])
    _write(root, 'classes.txt', '\ufeffx\r\ny\r\n')
    ds = _load(root, classes='classes.txt')
    assert ds.metainfo['classes'] == ('x', 'y')


# =========================================================================
# a data set that is not prepared yet
# =========================================================================
@pytest.mark.parametrize('cls, ann, needle', [
    (CremaDDataset, 'train.csv', 'tools/dataset_converters/crema_d.py'),
    (AVDigitsDataset, 'train.csv', 'make data'),
    (AVEDataset, 'trainSet.txt', 'tools/dataset_converters/ave.py'),
    (CrisisMMDDataset, 'split.tsv', 'docs/crisismmd.md'),
    (NYUDepthV2Dataset, 'train.txt', 'tools/dataset_converters/'
     'nyu_depth_v2.py (see docs/nyu_depth_v2.md)'),
])
def test_not_prepared_data_set_names_its_converter(tmp_path, cls, ann,
                                                   needle):
    root = tmp_path / 'data' / 'x'
    with pytest.raises(FileNotFoundError) as info:
        cls(ann_file=ann, data_root=str(root))
    msg = str(info.value)
    assert f'ann_file {root / ann} does not exist; the data set is not ' \
        'prepared yet (or data_root is wrong)' in msg
    assert needle in msg


def test_not_prepared_vggsound_names_its_converter(tmp_path):
    root = tmp_path / 'vggsound'
    with pytest.raises(FileNotFoundError, match=r'train_tiny\.csv \(the '
                       r'default class file\) does not exist.*'
                       r'tools/dataset_converters/vggsound\.py'):
        VGGSoundDataset(ann_file='train_tiny.csv', data_root=str(root))
    with pytest.raises(FileNotFoundError, match=r'does not exist; the data '
                       r'set is not prepared.*dataset_converters/vggsound'):
        VGGSoundDataset(ann_file='train_tiny.csv', data_root=str(root),
                        classes=['a'])


# =========================================================================
# CrisisMMD split files
# =========================================================================
def _crisis(root: Path,
            ids: Sequence[str] = ('1_0', '2_0', '3_0'),
            labels: Optional[Sequence[str]] = None,
            missing: Sequence[str] = (),
            bom: str = '',
            newline: str = '\n',
            encoding: str = 'utf-8',
            text: str = 'a tweet') -> str:
    labels = labels or ['not_humanitarian'] * len(ids)
    lines = ['\t'.join(CRISISMMD_COLUMNS)]
    for image_id, label in zip(ids, labels):
        image = f'data_image/ev/{image_id}.jpg'
        if image_id not in missing:
            path = root / image
            path.parent.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(path), np.zeros((4, 4, 3), np.uint8))
        lines.append('\t'.join([
            'ev', image_id.split('_')[0], image_id, text, image, label, label,
            label, 'Positive'
        ]))
    (root / 'split.tsv').write_bytes(
        (bom + newline.join(lines) + newline).encode(encoding))
    return 'split.tsv'


def _crisis_load(root, **kwargs) -> CrisisMMDDataset:
    return CrisisMMDDataset(
        ann_file='split.tsv', data_root=str(root), serialize_data=False,
        **kwargs)


def test_crisismmd_bom_crlf_and_blank_lines(tmp_path):
    _crisis(tmp_path, bom='\ufeff', newline='\r\n\r\n')
    ds = _crisis_load(tmp_path)
    assert [ds.get_data_info(i)['image_id'] for i in range(3)] == [
        '1_0', '2_0', '3_0'
    ]
    assert ds.get_data_info(2)['event_name'] == 'ev'


def test_crisismmd_latin1_empty_and_header_only(tmp_path):
    _crisis(tmp_path, text='caf\xe9', encoding='latin-1')
    with pytest.raises(ValueError, match=r'split\.tsv line 2, byte 13: 0xe9 '
                       'is not UTF-8'):
        _crisis_load(tmp_path)
    (tmp_path / 'split.tsv').write_bytes(b'')
    with pytest.raises(ValueError, match=r'split\.tsv is empty \(expected a '
                       r'header row\)'):
        _crisis_load(tmp_path)
    _crisis(tmp_path, ids=())
    with pytest.raises(ValueError, match=r'split\.tsv holds no rows'):
        _crisis_load(tmp_path)


def test_crisismmd_duplicates_and_missing_images_in_one_warning(tmp_path):
    _crisis(tmp_path, ids=('1_0', '2_0', '1_0', '3_0'), missing=('3_0', ))
    with pytest.warns(UserWarning) as record:
        ds = _crisis_load(tmp_path)
    msg = _one_warning(record)
    assert 'skipped 2 of 4 rows' in msg
    assert "1 repeated rows (e.g. image '1_0' in line 4 of" in msg
    assert 'repeats line 2' in msg
    assert "1 rows whose image is missing (e.g. " in msg
    assert len(ds) == 2
    with pytest.raises(ValueError, match=r"image '1_0' in line 4 .*repeats"):
        _crisis_load(tmp_path, strict=True)
    _crisis(tmp_path, ids=('1_0', '1_0'),
            labels=('not_humanitarian', 'vehicle_damage'))
    with pytest.raises(ValueError, match=r"image '1_0' is labelled "
                       r"'not_humanitarian' in line 2 and 'infrastructure"):
        _crisis_load(tmp_path)


# =========================================================================
# NYU-Depth V2 split lists
# =========================================================================
def _nyu(root: Path, names=('0001', '0002'), listing='0001\n0002\n',
         encoding='utf-8') -> None:
    for name in names:
        for sub, img in (('rgb', np.zeros((4, 4, 3), np.uint8)),
                         ('depth', np.zeros((4, 4), np.uint16)),
                         ('label40', np.zeros((4, 4), np.uint8))):
            (root / sub).mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(root / sub / f'{name}.png'), img)
    (root / 'train.txt').write_bytes(listing.encode(encoding))


def _nyu_names(root) -> List[str]:
    ds = NYUDepthV2Dataset(data_root=str(root), serialize_data=False)
    return [ds.get_data_info(i)['name'] for i in range(len(ds))]


def test_nyu_list_bom_crlf_blank_lines(tmp_path):
    _nyu(tmp_path, listing='\ufeff0001\r\n\r\n0002\r\n')
    assert _nyu_names(tmp_path) == ['0001', '0002']


def test_nyu_list_empty_duplicate_and_missing_image(tmp_path):
    _nyu(tmp_path, listing='\n')
    with pytest.raises(ValueError, match=r'train\.txt holds no rows'):
        _nyu_names(tmp_path)
    _nyu(tmp_path, listing='0001\n0002\n0001\n')
    with pytest.raises(ValueError, match=r"train\.txt lists '0001' on line 3 "
                       'and on line 1: it would be used twice; remove one'):
        _nyu_names(tmp_path)
    _nyu(tmp_path, listing='0001\n0003\n')
    with pytest.raises(FileNotFoundError, match=r"rgb/0003\.png \(sample "
                       r"'0003' of .*train\.txt\) does not exist; run "
                       'tools/dataset_converters/nyu_depth_v2.py again'):
        _nyu_names(tmp_path)


def test_nyu_empty_or_corrupt_png_raises_naming_the_file(tmp_path):
    from fdkd_plugin.datasets.transforms.rgbd import LoadRGBD
    _nyu(tmp_path, names=('0001', ))
    rgb = tmp_path / 'rgb' / '0001.png'
    info = dict(rgb_path=str(rgb), depth_path=str(tmp_path / 'depth' /
                                                  '0001.png'))
    assert LoadRGBD()(dict(info))['rgb'].shape == (4, 4, 3)
    rgb.write_bytes(b'')
    with pytest.raises(ValueError, match=re.escape(str(rgb)) +
                       r' is empty \(0 bytes\); convert again with '
                       r'tools/dataset_converters/nyu_depth_v2\.py '
                       '--overwrite'):
        LoadRGBD()(dict(info))
    rgb.write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    with pytest.raises(ValueError, match=re.escape(str(rgb)) +
                       ' is not an image cv2 can read'):
        LoadRGBD()(dict(info))
