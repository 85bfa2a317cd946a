"""The audio-visual data sets on tiny fixtures in their real layouts."""
import os.path as osp
import re
import warnings

import numpy as np
import pytest
from mmengine.registry import DATASETS as ROOT_DATASETS

from fdkd_plugin.datasets import (AVE_CLASSES, AVDigitsDataset, AVEDataset,
                                  CremaDDataset, VGGSoundDataset)
from fdkd_plugin.registry import DATASETS

CREMA_ROWS = [('1001_DFA_ANG_XX', 'ANG'), ('1001_DFA_NEU_XX', 'NEU'),
              ('1002_IEO_HAP_HI', 'HAP'), ('1003_TIE_SAD_XX', 'SAD')]


def _infos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


# ---------------------------------------------------------------- CREMA-D
def test_cremad_rows_labels_paths(av_writer):
    root = str(av_writer.cremad(CREMA_ROWS))
    ds = CremaDDataset(ann_file='train.csv', data_root=root)
    assert len(ds) == 4
    assert ds.metainfo['classes'] == ('NEU', 'HAP', 'SAD', 'FEA', 'DIS',
                                      'ANG')
    assert ds.get_gt_labels().tolist() == [5, 0, 1, 2]
    assert [ds.get_cat_ids(i) for i in range(4)] == [[5], [0], [1], [2]]
    info = ds[0]  # empty pipeline: the data info itself
    assert info['clip_id'] == '1001_DFA_ANG_XX'
    assert info['gt_label'] == 5
    assert info['sample_idx'] == 0
    assert info['audio_path'] == osp.join(root, 'AudioWAV',
                                          '1001_DFA_ANG_XX.wav')
    assert info['frames_dir'] == osp.join(root, 'Image-01-FPS',
                                          '1001_DFA_ANG_XX')
    assert info['spec_path'] is None
    assert 'audio_start' not in info


def test_cremad_optional_header(av_writer):
    root = str(av_writer.cremad(CREMA_ROWS[:2], header='clip,label'))
    ds = CremaDDataset(ann_file='train.csv', data_root=root)
    assert [i['clip_id'] for i in _infos(ds)] == [
        '1001_DFA_ANG_XX', '1001_DFA_NEU_XX'
    ]


def test_cremad_unknown_label_names_row_label_file(av_writer):
    root = str(av_writer.cremad([CREMA_ROWS[0], ('1004_X', 'XYZ')]))
    with pytest.raises(ValueError,
                       match=r"unknown label 'XYZ' in row 2 of .*train\.csv"):
        CremaDDataset(ann_file='train.csv', data_root=root)


def test_cremad_malformed_row(av_writer):
    root = av_writer.cremad(CREMA_ROWS[:1])
    (root / 'test.csv').write_text('1001_DFA_ANG_XX,ANG,extra\n')
    with pytest.raises(ValueError, match=r'test\.csv line 1: expected 2'):
        CremaDDataset(ann_file='test.csv', data_root=str(root))


def test_missing_files_skipped_with_one_warning(av_writer):
    root = str(
        av_writer.cremad(
            CREMA_ROWS,
            missing_audio=['1001_DFA_NEU_XX'],
            missing_frames=['1003_TIE_SAD_XX']))
    with pytest.warns(UserWarning) as record:
        ds = CremaDDataset(ann_file='train.csv', data_root=root)
    msgs = [str(w.message) for w in record if 'skipped' in str(w.message)]
    assert len(msgs) == 1
    assert 'skipped 2 of 4 rows' in msgs[0]
    assert osp.join('AudioWAV', '1001_DFA_NEU_XX.wav') in msgs[0]
    assert [i['clip_id'] for i in _infos(ds)] == [
        '1001_DFA_ANG_XX', '1002_IEO_HAP_HI'
    ]
    assert ds.get_gt_labels().tolist() == [5, 1]


def test_missing_file_strict_raises(av_writer):
    root = str(
        av_writer.cremad(CREMA_ROWS, missing_frames=['1002_IEO_HAP_HI']))
    missing = osp.join(root, 'Image-01-FPS', '1002_IEO_HAP_HI')
    with pytest.raises(
            FileNotFoundError, match=re.escape(missing) + r'.*row 3'):
        CremaDDataset(ann_file='train.csv', data_root=root, strict=True)


def test_modalities_only_require_their_files(av_writer):
    root = str(
        av_writer.cremad(CREMA_ROWS, missing_frames=['1003_TIE_SAD_XX']))
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no skip warning may be emitted
        audio_only = CremaDDataset(
            ann_file='train.csv', data_root=root, modalities=('audio', ))
    assert len(audio_only) == 4  # the frame-less clip is kept
    assert all(i['frames_dir'] is None for i in _infos(audio_only))
    # the visual modality does need the frames: that row is skipped
    with pytest.warns(UserWarning, match=r'skipped 1 of 4 .*1003_TIE_SAD_XX'):
        both = CremaDDataset(ann_file='train.csv', data_root=root)
    assert len(both) == 3


def test_visual_only_ignores_missing_audio(av_writer):
    root = str(av_writer.cremad(CREMA_ROWS, missing_audio=['1001_DFA_NEU_XX']))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        visual_only = CremaDDataset(
            ann_file='train.csv', data_root=root, modalities='visual')
    assert len(visual_only) == 4
    assert all(i['audio_path'] is None and i['spec_path'] is None
               for i in _infos(visual_only))
    assert visual_only.get_data_info(1)['frames_dir'] == osp.join(
        root, 'Image-01-FPS', '1001_DFA_NEU_XX')


def test_cremad_pickled_spectrograms(av_writer):
    root = str(av_writer.cremad(CREMA_ROWS[:2], audio_format='pkl'))
    ds = CremaDDataset(
        ann_file='train.csv', data_root=root, audio_format='pkl')
    info = ds.get_data_info(1)
    assert info['audio_path'] is None
    assert info['spec_path'] == osp.join(root, 'AudioSpec',
                                         '1001_DFA_NEU_XX.pkl')


@pytest.mark.parametrize('kwargs, match', [
    (dict(modalities=('audio', 'depth')), r"modalities=\('audio', 'depth'\)"),
    (dict(modalities=()), r'modalities=\(\) must be a non-empty'),
    (dict(modalities=('audio', 'audio')), r'duplicates'),
    (dict(audio_format='mp3'), r"audio_format='mp3'"),
    (dict(audio_tmpl='AudioWAV/x.wav'), r"audio_tmpl='AudioWAV/x.wav'"),
    (dict(classes=['a', 'b', 'a']), r"duplicate names: \['a'\]"),
])
def test_invalid_arguments(av_writer, kwargs, match):
    root = str(av_writer.cremad(CREMA_ROWS[:1]))
    with pytest.raises(ValueError, match=match):
        CremaDDataset(ann_file='train.csv', data_root=root, **kwargs)


def test_missing_ann_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'nope\.csv'):
        CremaDDataset(ann_file='nope.csv', data_root=str(tmp_path))


# ---------------------------------------------------------------- AV-digits
def test_avdigits_classes_and_splits(av_writer):
    rows = [('d7_de_0001', '7'), ('d0_en_0002', '0'), ('d9_fr_0003', '9')]
    root = av_writer.cremad(rows, ann='train.csv')
    av_writer.cremad(rows[1:], ann='val.csv')
    av_writer.cremad(rows[:1], ann='test.csv')
    ds = AVDigitsDataset(ann_file='train.csv', data_root=str(root))
    assert ds.metainfo['classes'] == tuple('0123456789')
    assert ds.get_gt_labels().tolist() == [7, 0, 9]
    assert ds.get_data_info(0)['audio_path'] == osp.join(
        str(root), 'AudioWAV', 'd7_de_0001.wav')
    assert len(AVDigitsDataset(ann_file='val.csv', data_root=str(root))) == 2
    assert len(AVDigitsDataset(ann_file='test.csv', data_root=str(root))) == 1
    av_writer.cremad([('c', 'ANG')], ann='bad.csv')
    with pytest.raises(ValueError, match=r"unknown label 'ANG' in row 1"):
        AVDigitsDataset(ann_file='bad.csv', data_root=str(root))


def test_registry_builds_with_scope(av_writer):
    root = str(av_writer.cremad([('d3_x', '3')]))
    ds = ROOT_DATASETS.build(
        dict(type='fdkd.AVDigitsDataset', ann_file='train.csv',
             data_root=root))
    assert isinstance(ds, AVDigitsDataset)
    assert DATASETS.get('CremaDDataset') is CremaDDataset
    assert ds.get_gt_labels().tolist() == [3]


def test_classes_override_reuses_cremad_parser(av_writer):
    root = str(av_writer.cremad([('c1', 'cat'), ('c2', 'dog')]))
    ds = CremaDDataset(
        ann_file='train.csv', data_root=root, classes=('dog', 'cat'))
    assert ds.get_gt_labels().tolist() == [1, 0]
    assert ds.class_to_idx == {'dog': 0, 'cat': 1}


# ---------------------------------------------------------------- AVE
AVE_ROWS = [('Church bell', 'RUhOCu3LNXM', 0, 10),
            ('Rodents, rats, mice', 'sLmPPZfcK6A', 2, 7.5),
            ('Mandolin', 'a1b2c3d4e5f', 1, 4)]


def test_ave_class_list():
    assert len(AVE_CLASSES) == 28 == len(set(AVE_CLASSES))
    assert AVE_CLASSES[:3] == ('Church bell', 'Male speech, man speaking',
                               'Bark')
    assert AVE_CLASSES[-1] == 'Mandolin'


def test_ave_rows_labels_paths_span(av_writer):
    root = str(av_writer.ave(AVE_ROWS, header=True))
    ds = AVEDataset(ann_file='trainSet.txt', data_root=root)
    assert len(ds) == 3
    assert ds.get_gt_labels().tolist() == [0, 25, 27]
    info = ds.get_data_info(1)
    assert info['clip_id'] == 'sLmPPZfcK6A'
    assert (info['audio_start'], info['audio_end']) == (2.0, 7.5)
    assert info['audio_path'] == osp.join(root, 'AudioWAV', 'sLmPPZfcK6A.wav')
    assert info['frames_dir'] == osp.join(root, 'Image-01-FPS-SE',
                                          'sLmPPZfcK6A')
    no_span = AVEDataset(
        ann_file='trainSet.txt', data_root=root, event_span=False)
    assert 'audio_start' not in no_span.get_data_info(1)


def test_ave_pkl_format_and_missing(av_writer):
    root = str(
        av_writer.ave(
            AVE_ROWS,
            ann='testSet.txt',
            audio_format='pkl',
            missing_audio=['a1b2c3d4e5f']))
    with pytest.warns(UserWarning, match=r'skipped 1 of 3 rows'):
        ds = AVEDataset(
            ann_file='testSet.txt', data_root=root, audio_format='pkl')
    assert [i['spec_path'] for i in _infos(ds)] == [
        osp.join(root, 'AudioSpec', 'RUhOCu3LNXM.pkl'),
        osp.join(root, 'AudioSpec', 'sLmPPZfcK6A.pkl')
    ]
    assert all(i['audio_path'] is None for i in _infos(ds))


def test_ave_bad_rows(av_writer):
    root = av_writer.ave(AVE_ROWS[:1])
    (root / 'valSet.txt').write_text('Church bell&RUhOCu3LNXM&good&0\n')
    with pytest.raises(ValueError, match=r'valSet\.txt line 1: expected 5'):
        AVEDataset(ann_file='valSet.txt', data_root=str(root))
    (root / 'valSet.txt').write_text('Church bell&RUhOCu3LNXM&good&5&5\n')
    with pytest.raises(ValueError, match=r'\[5.0, 5.0\] must satisfy'):
        AVEDataset(ann_file='valSet.txt', data_root=str(root))
    (root / 'valSet.txt').write_text('Dog&RUhOCu3LNXM&good&0&10\n')
    with pytest.raises(ValueError, match=r"unknown label 'Dog' in row 1"):
        AVEDataset(ann_file='valSet.txt', data_root=str(root))


# ---------------------------------------------------------------- VGGSound
VGG_TRAIN = [('-0BIyqJj9ZU', 30, 'playing flute', 'train'),
             ('abc', 5, 'dog barking, howling', 'train'),
             ('xyz', 120, 'cat meowing', 'train')]
VGG_TEST = [('tst1', 0, 'playing flute', 'test'),
            ('tst2', 7, 'cat meowing', 'test')]


def test_vggsound_rows_classes_paths(av_writer):
    root = av_writer.vggsound(VGG_TRAIN, header=True)
    av_writer.vggsound(VGG_TEST, ann='test_tiny.csv')
    root = str(root)
    train = VGGSoundDataset(ann_file='train_tiny.csv', data_root=root)
    # sorted unique labels of train_tiny.csv
    assert train.metainfo['classes'] == ('cat meowing',
                                         'dog barking, howling',
                                         'playing flute')
    assert train.get_gt_labels().tolist() == [2, 1, 0]
    info = train.get_data_info(0)
    assert info['clip_id'] == '-0BIyqJj9ZU_000030'
    assert info['audio_path'] == osp.join(root, 'audio',
                                          '-0BIyqJj9ZU_000030.wav')
    assert info['frames_dir'] == osp.join(root, 'Image-01-FPS',
                                          '-0BIyqJj9ZU_000030.mp4')
    # the test split lacks a class, yet maps labels as training does
    test = VGGSoundDataset(ann_file='test_tiny.csv', data_root=root)
    assert test.metainfo['classes'] == train.metainfo['classes']
    assert test.get_gt_labels().tolist() == [2, 0]


def test_vggsound_split_filter_and_class_files(av_writer):
    root = av_writer.vggsound(VGG_TRAIN + VGG_TEST, ann='vggsound.csv')
    av_writer.vggsound(VGG_TRAIN)
    (root / 'classes.txt').write_text('playing flute\ncat meowing\n'
                                      'dog barking, howling\n')
    ds = VGGSoundDataset(
        ann_file='vggsound.csv',
        data_root=str(root),
        split='test',
        classes='classes.txt')
    assert [i['clip_id'] for i in _infos(ds)] == ['tst1_000000', 'tst2_000007']
    assert ds.get_gt_labels().tolist() == [0, 1]  # txt: file order
    by_csv = VGGSoundDataset(
        ann_file='vggsound.csv', data_root=str(root), classes='vggsound.csv')
    assert len(by_csv) == 5
    assert by_csv.metainfo['classes'][0] == 'cat meowing'


def test_vggsound_errors(av_writer, tmp_path):
    root = av_writer.vggsound(VGG_TRAIN)
    (root / 'bad.csv').write_text('a,1,cat meowing,train\nb,x,cat meowing,'
                                  'train\n')
    with pytest.raises(ValueError, match=r"bad\.csv line 2: start 'x'"):
        VGGSoundDataset(ann_file='bad.csv', data_root=str(root))
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'test_tiny.csv').write_text('a,1,cat meowing,test\n')
    with pytest.raises(FileNotFoundError, match=r'train_tiny\.csv'):
        VGGSoundDataset(ann_file='test_tiny.csv', data_root=str(empty))
    with pytest.raises(ValueError, match=r"split=''"):
        VGGSoundDataset(ann_file='train_tiny.csv', data_root=str(root),
                        split='')


def test_lazy_init_defers_loading(av_writer):
    root = str(av_writer.cremad(CREMA_ROWS[:2]))
    ds = CremaDDataset(ann_file='train.csv', data_root=root, lazy_init=True)
    assert not ds._fully_initialized
    ds.full_init()
    assert len(ds) == 2
    assert np.array_equal(ds.get_gt_labels(), np.array([5, 0]))


# ------------------------------------------- the generator's real output
def test_avdigits_reads_generated_set(tiny_avdigits):
    """The data set reads what make_avdigits.py writes (40/20/20 clips)."""
    pipeline = [
        dict(type='fdkd.LoadAudio'),
        dict(type='fdkd.Spectrogram'),
        dict(type='fdkd.LoadFrames', test_mode=True),
        dict(type='fdkd.MultiModalResize', scale=32),
        dict(type='fdkd.PackMultiModalInputs'),
    ]
    sizes = {}
    for split in ('train', 'val', 'test'):
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # every clip's files exist
            ds = AVDigitsDataset(
                ann_file=f'{split}.csv',
                data_root=tiny_avdigits,
                pipeline=pipeline,
                strict=True)
        sizes[split] = len(ds)
        # balanced: every digit equally often
        assert np.bincount(ds.get_gt_labels(), minlength=10).tolist() == \
            [len(ds) // 10] * 10
    assert sizes == dict(train=40, val=20, test=20)
    item = ds[0]
    assert item['inputs']['audio'].shape == (1, 257, 188)  # 1 s tiled to 3
    assert item['inputs']['visual'].shape == (3, 32, 32)
    assert item['data_samples'].frame_inds.tolist() == [1]
    assert item['data_samples'].clip_id == ds.get_data_info(0)['clip_id']
