"""NYU-Depth V2: the converter on tiny files of the official structure, the
data set, and the paired segmentation transforms.

:func:`write_official_nyu` writes the three official downloads in their
real structure (``nyu_depth_v2_labeled.mat`` as MATLAB v7.3 = HDF5 with a
MATLAB header, transposed arrays; ``classMapping40.mat`` and
``splits.mat`` as MATLAB v5 through ``scipy.io.savemat``, or v7.3); the
other NYU test files load this module to reuse it.
"""
import os
import os.path as osp
from pathlib import Path
from typing import Dict, Sequence

import cv2
import h5py
import numpy as np
import pytest
import scipy.io
import torch

from fdkd_helpers import load_script

conv = load_script('tools/dataset_converters/nyu_depth_v2.py')

NUM_RAW = 894


def _matlab_header(path: Path) -> None:
    """Write the 128-byte MATLAB v7.3 header into an HDF5 userblock."""
    text = b'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test ' \
        b'HDF5 schema 1.00 .'
    header = text.ljust(116, b' ') + b'\0' * 8 + b'\x00\x02IM'
    with open(path, 'r+b') as f:
        f.write(header)


def write_v73(path: Path, arrays: Dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3 file: HDF5 datasets stored transposed, MATLAB header."""
    with h5py.File(path, 'w', userblock_size=512) as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=np.asarray(value).T)
    _matlab_header(path)


def tiny_nyu_arrays(n: int = 6, h: int = 48, w: int = 64, seed: int = 0):
    """MATLAB-order arrays: images (H, W, 3, N) uint8, depths (H, W, N)
    metres, labels (H, W, N) in 0..894, with 4x4-pixel label blocks."""
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, (h, w, 3, n)).astype(np.uint8)
    depths = rng.uniform(0.5, 9.5, (h, w, n)).astype(np.float32)
    blocks = rng.randint(0, NUM_RAW + 1, (h // 4, w // 4, n))
    labels = np.repeat(np.repeat(blocks, 4, 0), 4, 1).astype(np.uint16)
    labels[0, 0, :] = 0  # a void pixel in each image
    labels[1, 1, 0] = NUM_RAW  # the last raw class
    return images, depths, labels


def tiny_mapping(seed: int = 0) -> np.ndarray:
    """``mapClass`` (1, 894) in 1..40, every 40-class id used."""
    rng = np.random.RandomState(seed)
    m = rng.randint(1, 41, NUM_RAW)
    m[:40] = np.arange(1, 41)
    return m[None].astype(np.float64)


def write_official_nyu(src: Path,
                       n: int = 6,
                       h: int = 48,
                       w: int = 64,
                       train: Sequence[int] = (1, 3, 4, 6),
                       test: Sequence[int] = (2, 5),
                       mapping_v73: bool = False) -> dict:
    """The three official files under ``src``; returns what they hold
    (MATLAB order) for the tests to compare with."""
    src.mkdir(parents=True, exist_ok=True)
    images, depths, labels = tiny_nyu_arrays(n, h, w)
    write_v73(
        src / conv.LABELED,
        dict(
            images=images,
            depths=depths,
            labels=labels,
            # further keys of the real file, unused by the converter
            rawDepths=depths,
            instances=np.zeros_like(labels, np.uint8)))
    map_class = tiny_mapping()
    names = np.empty((1, 40), dtype=object)
    for i in range(40):
        names[0, i] = f'class{i + 1}'
    if mapping_v73:
        write_v73(src / conv.MAPPING, dict(mapClass=map_class))
    else:
        scipy.io.savemat(
            src / conv.MAPPING, dict(mapClass=map_class, className=names))
    scipy.io.savemat(
        src / conv.SPLITS,
        dict(
            trainNdxs=np.asarray(train, np.float64)[:, None],
            testNdxs=np.asarray(test, np.float64)[:, None]))
    return dict(
        images=images,
        depths=depths,
        labels=labels,
        map_class=map_class,
        train=list(train),
        test=list(test))


def convert_tiny(tmp: Path, **kwargs) -> Path:
    """Write the official files and convert them; return the output root."""
    write_official_nyu(tmp / 'src', **kwargs)
    out = tmp / 'nyu'
    assert conv.main(['--src', str(tmp / 'src'), '--out', str(out),
                      '--no-progress']) == 0
    return out


# ---------------------------------------------------------------- converter
@pytest.mark.parametrize('mapping_v73', [False, True])
def test_converter_output_matches_source(tmp_path, mapping_v73):
    truth = write_official_nyu(tmp_path / 'src', mapping_v73=mapping_v73)
    out = tmp_path / 'nyu'
    assert conv.main(['--src', str(tmp_path / 'src'), '--out', str(out),
                      '--no-progress']) == 0
    assert (out / 'train.txt').read_text().split() == [
        '0001', '0003', '0004', '0006'
    ]
    assert (out / 'test.txt').read_text().split() == ['0002', '0005']
    lut = np.full(NUM_RAW + 1, 255, np.int64)
    lut[1:] = truth['map_class'][0].astype(np.int64) - 1
    for i in range(6):
        name = f'{i + 1:04d}'
        bgr = cv2.imread(str(out / 'rgb' / f'{name}.png'), cv2.IMREAD_COLOR)
        # MATLAB (H, W, 3) RGB, pixel for pixel (PNG is lossless)
        np.testing.assert_array_equal(bgr[..., ::-1],
                                      truth['images'][..., i])
        depth = cv2.imread(str(out / 'depth' / f'{name}.png'),
                           cv2.IMREAD_UNCHANGED)
        assert depth.dtype == np.uint16 and depth.shape == (48, 64)
        np.testing.assert_array_equal(
            depth, np.rint(truth['depths'][..., i] * 1000).astype(np.uint16))
        label = cv2.imread(str(out / 'label40' / f'{name}.png'),
                           cv2.IMREAD_UNCHANGED)
        assert label.dtype == np.uint8
        np.testing.assert_array_equal(label,
                                      lut[truth['labels'][..., i]])
    first = cv2.imread(str(out / 'label40' / '0001.png'), cv2.IMREAD_UNCHANGED)
    assert first[0, 0] == 255  # raw 0 (unlabeled) -> void
    # raw class 894 -> mapClass[893] - 1
    assert first[1, 1] == int(truth['map_class'][0, -1]) - 1
    assert first[first != 255].max() <= 39


def test_converter_resumes_and_overwrites(tmp_path, capsys):
    out = convert_tiny(tmp_path)
    capsys.readouterr()
    # an interrupted run: one sample lost a file, a temporary file is left
    os.remove(out / 'depth' / '0003.png')
    (out / 'rgb' / '.0003.png.tmp').write_bytes(b'partial')
    stamp = os.stat(out / 'rgb' / '0001.png').st_mtime_ns
    assert conv.main(['--src', str(tmp_path / 'src'), '--out', str(out),
                      '--no-progress']) == 0
    assert '1 samples written, 5 already there' in capsys.readouterr().out
    assert (out / 'depth' / '0003.png').is_file()
    assert os.stat(out / 'rgb' / '0001.png').st_mtime_ns == stamp
    assert conv.main(['--src', str(tmp_path / 'src'), '--out', str(out),
                      '--no-progress', '--overwrite']) == 0
    assert '6 samples written, 0 already there' in capsys.readouterr().out


def test_converter_progress_bar(tmp_path, capsys):
    write_official_nyu(tmp_path / 'src')
    assert conv.main(['--src', str(tmp_path / 'src'), '--out',
                      str(tmp_path / 'nyu')]) == 0
    err = capsys.readouterr().err
    assert 'NYU-Depth V2' in err and '6/6' in err


def test_converter_names_file_and_missing_key(tmp_path, capsys):
    src = tmp_path / 'src'
    write_official_nyu(src)
    # a labeled file without 'labels'
    write_v73(src / 'bad.mat', dict(images=np.zeros((4, 4, 3, 1), np.uint8),
                                    depths=np.zeros((4, 4, 1), np.float32)))
    assert conv.main(['--src', str(src), '--labeled', str(src / 'bad.mat'),
                      '--out', str(tmp_path / 'o'), '--no-progress']) == 1
    err = capsys.readouterr().err
    assert 'bad.mat' in err and "no 'labels'" in err
    # a mapping without mapClass
    scipy.io.savemat(src / 'map.mat', dict(other=np.ones(3)))
    with pytest.raises(conv.NYUFormatError,
                       match=r"map\.mat has no 'mapClass' \(it holds "
                       r"\['other'\]\)"):
        conv.load_class_mapping(src / 'map.mat')
    # splits without testNdxs
    scipy.io.savemat(src / 's.mat', dict(trainNdxs=np.ones((2, 1))))
    with pytest.raises(conv.NYUFormatError, match=r"s\.mat has no 'testNdxs'"):
        conv.load_splits(src / 's.mat', 6)


def test_converter_rejects_wrong_values(tmp_path):
    src = tmp_path / 'src'
    write_official_nyu(src)
    scipy.io.savemat(src / 'm.mat', dict(mapClass=np.full((1, 894), 41.0)))
    with pytest.raises(conv.NYUFormatError, match=r'mapClass values must be '
                       r'in 1\.\.40, got 41\.0\.\.41\.0'):
        conv.load_class_mapping(src / 'm.mat')
    scipy.io.savemat(src / 's.mat',
                     dict(trainNdxs=np.array([[1.0], [7.0]]),
                          testNdxs=np.array([[2.0]])))
    with pytest.raises(conv.NYUFormatError, match=r'trainNdxs must hold '
                       r'1-based indices in 1\.\.6, got 2 values in 1\.\.7'):
        conv.load_splits(src / 's.mat', 6)
    scipy.io.savemat(src / 's.mat',
                     dict(trainNdxs=np.array([[1.0], [2.0]]),
                          testNdxs=np.array([[2.0]])))
    with pytest.raises(conv.NYUFormatError, match='share 1 images, e.g. 2'):
        conv.load_splits(src / 's.mat', 6)
    # images not (N, 3, W, H): a 2-channel image array
    write_v73(src / 'l.mat', dict(images=np.zeros((4, 4, 2, 1), np.uint8),
                                  depths=np.zeros((4, 4, 1), np.float32),
                                  labels=np.zeros((4, 4, 1), np.uint16)))
    with pytest.raises(conv.NYUFormatError, match=r'l\.mat: images'):
        conv.LabeledMat(src / 'l.mat')
    (src / 'junk.mat').write_bytes(b'not a mat file at all' * 10)
    with pytest.raises(conv.NYUFormatError, match=r'junk\.mat is not a '
                       r'MATLAB v7\.3 \(HDF5\) file'):
        conv.LabeledMat(src / 'junk.mat')
    with pytest.raises(conv.NYUFormatError, match=r'junk\.mat is not a '
                       'MATLAB file'):
        conv.load_class_mapping(src / 'junk.mat')
    with pytest.raises(FileNotFoundError, match='nope.mat does not exist'):
        conv.load_splits(src / 'nope.mat', 6)


# ------------------------------------------------------------------ data set
@pytest.fixture(scope='module')
def tiny_nyu(tmp_path_factory) -> Path:
    """A converted tiny NYU set: 6 images 48x64, 4 train / 2 test."""
    return convert_tiny(tmp_path_factory.mktemp('nyu'))


MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
NORM = dict(rgb=dict(mean=MEAN.tolist(), std=STD.tolist()),
            depth=dict(mean=[0.5], std=[0.5]))


def test_dataset_lists_the_split(tiny_nyu):
    from fdkd_plugin.datasets import NYU40_CLASSES, NYUDepthV2Dataset
    ds = NYUDepthV2Dataset(data_root=str(tiny_nyu), ann_file='train.txt')
    assert len(ds) == 4
    assert [ds.get_data_info(i)['name'] for i in range(4)] == [
        '0001', '0003', '0004', '0006'
    ]
    info = ds.get_data_info(1)
    assert info['rgb_path'] == osp.join(str(tiny_nyu), 'rgb', '0003.png')
    assert info['img_path'] == info['rgb_path']
    assert info['depth_path'] == osp.join(str(tiny_nyu), 'depth', '0003.png')
    assert info['seg_map_path'] == osp.join(str(tiny_nyu), 'label40',
                                            '0003.png')
    assert info['reduce_zero_label'] is False and info['seg_fields'] == []
    assert ds.metainfo['classes'] == NYU40_CLASSES
    assert len(NYU40_CLASSES) == 40 and NYU40_CLASSES[0] == 'wall'
    assert NYU40_CLASSES[39] == 'otherprop'
    test = NYUDepthV2Dataset(data_root=str(tiny_nyu), ann_file='test.txt',
                             test_mode=True)
    names = [test.get_data_info(i)['name'] for i in range(2)]
    assert names == ['0002', '0005']
    # HHA: another depth folder through data_prefix
    hha = NYUDepthV2Dataset(data_root=str(tiny_nyu), ann_file='test.txt',
                            data_prefix=dict(depth_path='hha'),
                            check_files=False)
    assert hha.get_data_info(0)['depth_path'].endswith(
        osp.join('hha', '0002.png'))


def test_dataset_names_missing_files(tiny_nyu, tmp_path):
    from fdkd_plugin.datasets import NYUDepthV2Dataset
    with pytest.raises(FileNotFoundError, match='val.txt does not exist'):
        NYUDepthV2Dataset(data_root=str(tiny_nyu), ann_file='val.txt')
    with pytest.raises(FileNotFoundError,
                       match=r"hha/0001\.png \(sample '0001' of .*train\.txt"
                       r'\) does not exist'):
        NYUDepthV2Dataset(data_root=str(tiny_nyu),
                          data_prefix=dict(depth_path='hha'))


def _preprocess(samples, **kwargs):
    """fdkd.MultiModalDataPreprocessor on packed samples (as the Runner
    collates them: one list per modality)."""
    from mmengine.dataset import pseudo_collate

    from fdkd_plugin.models.data_preprocessors import \
        MultiModalDataPreprocessor
    return MultiModalDataPreprocessor(**kwargs)(pseudo_collate(samples),
                                                True)


def test_test_pipeline_packs_normalized_pair(tiny_nyu):
    from fdkd_plugin.datasets import NYUDepthV2Dataset
    from fdkd_plugin.datasets.transforms import encode_depth
    ds = NYUDepthV2Dataset(
        data_root=str(tiny_nyu),
        ann_file='test.txt',
        test_mode=True,
        pipeline=[
            dict(type='fdkd.LoadRGBD', depth_encoding='log'),
            dict(type='mmseg.LoadAnnotations'),
            dict(type='fdkd.PackMultiModalInputs',
                 modalities=('rgb', 'depth')),
        ])
    out = ds[1]  # image 0005
    rgb, depth = out['inputs']['rgb'], out['inputs']['depth']
    assert rgb.shape == (3, 48, 64) and depth.shape == (1, 48, 64)
    # uint8 RGB crosses the worker boundary; depth is its [0, 1] encoding
    assert rgb.dtype == torch.uint8 and depth.dtype == torch.float32
    png = cv2.imread(str(tiny_nyu / 'rgb' / '0005.png'))[..., ::-1]
    np.testing.assert_array_equal(rgb.permute(1, 2, 0).numpy(), png)
    data = _preprocess([out], norm_cfg=NORM, pad_to='ori_shape')
    rgb, depth = data['inputs']['rgb'][0], data['inputs']['depth'][0]
    assert rgb.dtype == depth.dtype == torch.float32
    np.testing.assert_allclose(rgb.permute(1, 2, 0).numpy(),
                               (png - MEAN) / STD, rtol=0, atol=1e-5)
    mm = cv2.imread(str(tiny_nyu / 'depth' / '0005.png'), -1)
    want = (encode_depth(mm / 1000.0, 'log') - 0.5) / 0.5
    np.testing.assert_allclose(depth[0].numpy(), want, rtol=0, atol=1e-6)
    sample = data['data_samples'][0]
    gt = cv2.imread(str(tiny_nyu / 'label40' / '0005.png'), -1)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(), gt)
    assert sample.ori_shape == sample.img_shape == (48, 64)
    assert sample.padding_size == (0, 0, 0, 0)  # nothing to pad at test
    assert sample.img_path.endswith('0005.png')
    assert 'flip' not in sample  # no augmentation at test time


def test_encode_depth_values():
    from fdkd_plugin.datasets.transforms import encode_depth
    d = np.array([[0.0, math_e_minus_1(), 10.0, 25.0]], np.float32)
    log = encode_depth(d, 'log', max_depth=10.0)
    np.testing.assert_allclose(
        log, [[0.0, 1 / np.log(11.0), 1.0, 1.0]], rtol=1e-6)
    metric = encode_depth(np.array([[0.0, 5.0, 12.0]]), 'metric', 10.0)
    np.testing.assert_allclose(metric, [[0.0, 0.5, 1.0]])
    assert log.dtype == metric.dtype == np.float32
    with pytest.raises(ValueError, match="encoding='hha' must be"):
        encode_depth(d, 'hha')


def math_e_minus_1() -> float:
    return float(np.e - 1)


def test_load_rgbd_hha_and_errors(tmp_path):
    from fdkd_plugin.datasets.transforms import LoadRGBD
    hha = np.random.RandomState(0).randint(0, 256, (6, 8, 3)).astype(
        np.uint8)
    cv2.imwrite(str(tmp_path / 'h.png'), hha)
    out = LoadRGBD(modalities='depth', depth_encoding='hha')(
        dict(depth_path=str(tmp_path / 'h.png')))
    assert out['depth'].shape == (6, 8, 3) and out['modal_fields'] == [
        'depth'
    ]
    # the file's channel order (cv2 wrote the array's channels reversed)
    np.testing.assert_allclose(out['depth'], hha[..., ::-1] / 255.0,
                               atol=1e-7)
    # an 8-bit file where 16-bit millimetres are expected
    with pytest.raises(ValueError, match=r'h\.png is uint8 \(6, 8, 3\); '
                       "depth_encoding='log' needs a 1-channel 16-bit PNG"):
        LoadRGBD(modalities='depth')(dict(depth_path=str(tmp_path / 'h.png')))
    cv2.imwrite(str(tmp_path / 'r.png'), np.zeros((5, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'd.png'), np.zeros((6, 8), np.uint16))
    with pytest.raises(ValueError, match=r'differ in size: .*r\.png \(5, 8\)'
                       r'.*d\.png \(6, 8\)'):
        LoadRGBD()(dict(rgb_path=str(tmp_path / 'r.png'),
                        depth_path=str(tmp_path / 'd.png')))
    with pytest.raises(FileNotFoundError, match=r'x\.png does not exist'):
        LoadRGBD(modalities='rgb')(dict(rgb_path=str(tmp_path / 'x.png')))
    with pytest.raises(ValueError, match=r"modalities=\('rgb', 'hha'\)"):
        LoadRGBD(modalities=('rgb', 'hha'))
    with pytest.raises(ValueError, match="depth_encoding='png'"):
        LoadRGBD(depth_encoding='png')
    with pytest.raises(ValueError, match='max_depth=0 must be > 0'):
        LoadRGBD(max_depth=0)


# --------------------------------------------------------------- transforms
def _coded_sample(h: int = 48, w: int = 64) -> dict:
    """rgb channel 0, depth and label all hold the same position code, so
    any transform that treats them alike keeps them equal."""
    code = (np.arange(h * w).reshape(h, w) % 251).astype(np.uint8)
    rgb = np.stack([code, 255 - code, code // 2], -1).astype(np.uint8)
    return dict(
        rgb=rgb,
        depth=code.astype(np.float32)[..., None],
        gt_seg_map=code.copy(),
        seg_fields=['gt_seg_map'],
        modal_fields=['rgb', 'depth'],
        img_shape=(h, w),
        ori_shape=(h, w))


def test_geometric_transforms_move_all_maps_alike():
    from mmcv.transforms import Compose
    pipeline = Compose([
        dict(type='fdkd.MultiModalRandomResize', ratio_range=(0.5, 2.0),
             interpolations=dict(rgb='nearest', depth='nearest')),
        dict(type='fdkd.MultiModalRandomCrop'),
        dict(type='fdkd.MultiModalRandomFlip', prob=0.5),
        dict(type='fdkd.PackMultiModalInputs', modalities=('rgb', 'depth')),
    ])
    flips, boxes, sizes = set(), set(), set()
    for seed in range(12):
        np.random.seed(seed)
        packed = pipeline(_coded_sample())
        # crop, then pad on the batch: back to the loaded size
        out = _preprocess([packed], pad_to='ori_shape')
        rgb, depth = out['inputs']['rgb'][0], out['inputs']['depth'][0]
        sample = out['data_samples'][0]
        seg = sample.gt_sem_seg.data[0]
        assert rgb.shape == (3, 48, 64) and depth.shape == (1, 48, 64)
        assert seg.shape == (48, 64) and sample.pad_shape == (48, 64)
        h, w = sample.img_shape
        valid = torch.zeros((48, 64), dtype=torch.bool)
        valid[:h, :w] = True
        assert torch.equal(rgb[0][valid], seg[valid].float())
        assert torch.equal(depth[0][valid], seg[valid].float())
        assert (seg[~valid] == 255).all() and (rgb[:, ~valid] == 0).all()
        assert sample.padding_size == (0, 64 - w, 0, 48 - h)
        flips.add(sample.flip)
        boxes.add((h, w, *rgb[0, 0, :2].tolist()))
        sizes.add(sample.scale_factor)
    assert flips == {True, False}
    assert len(boxes) > 6 and len(sizes) > 8


def test_flip_and_crop_values():
    from fdkd_plugin.datasets.transforms import (MultiModalRandomCrop,
                                                 MultiModalRandomFlip)
    s = _coded_sample(4, 6)
    out = MultiModalRandomFlip(prob=1.0)(dict(s))
    np.testing.assert_array_equal(out['rgb'], s['rgb'][:, ::-1])
    np.testing.assert_array_equal(out['depth'], s['depth'][:, ::-1])
    np.testing.assert_array_equal(out['gt_seg_map'], s['gt_seg_map'][:, ::-1])
    assert out['flip_direction'] == 'horizontal'
    out = MultiModalRandomFlip(prob=1.0, direction='vertical')(dict(s))
    np.testing.assert_array_equal(out['gt_seg_map'], s['gt_seg_map'][::-1])
    out = MultiModalRandomFlip(prob=0.0)(dict(s))
    assert out['flip'] is False and out['flip_direction'] is None
    np.random.seed(0)
    out = MultiModalRandomCrop(crop_size=(2, 3))(dict(s))
    y1, y2, x1, x2 = out['crop_bbox']
    assert (y2 - y1, x2 - x1) == (2, 3) == out['img_shape']
    np.testing.assert_array_equal(out['depth'][..., 0],
                                  s['depth'][y1:y2, x1:x2, 0])
    with pytest.raises(ValueError, match='prob=1.5 must be in'):
        MultiModalRandomFlip(prob=1.5)
    with pytest.raises(ValueError, match=r'crop_size=\(0, 3\)'):
        MultiModalRandomCrop(crop_size=(0, 3))
    with pytest.raises(ValueError, match='cat_max_ratio=0 must be'):
        MultiModalRandomCrop(cat_max_ratio=0)


def test_crop_cat_max_ratio_balances_classes():
    from fdkd_plugin.datasets.transforms import MultiModalRandomCrop
    seg = np.zeros((48, 64), np.uint8)
    seg[:, 32:] = 1  # two halves; a 24x32 window is balanced iff it
    # straddles the middle with more than a quarter on each side

    def share(box):
        y1, y2, x1, x2 = box
        return (seg[y1:y2, x1:x2] == 0).mean()

    def shares(ratio):
        out = []
        for seed in range(20):
            np.random.seed(seed)
            s = dict(_coded_sample(), gt_seg_map=seg.copy())
            box = MultiModalRandomCrop((24, 32), cat_max_ratio=ratio)(
                s)['crop_bbox']
            out.append(share(box))
        return np.array(out)

    balanced = shares(0.75)
    assert ((balanced > 0.25) & (balanced < 0.75)).all()
    plain = shares(1.0)
    assert ((plain <= 0.25) | (plain >= 0.75)).any()


def test_random_resize_interpolation_and_scale():
    from fdkd_plugin.datasets.transforms import MultiModalRandomResize
    s = _coded_sample(4, 6)
    out = MultiModalRandomResize(ratio_range=(2.0, 2.0))(dict(s))
    assert out['rgb'].shape == (8, 12, 3) and out['depth'].shape == (8, 12, 1)
    assert out['img_shape'] == (8, 12) and out['scale_factor'] == (2.0, 2.0)
    # depth and labels by nearest neighbour: each value repeated 2x2
    np.testing.assert_array_equal(out['depth'][::2, ::2, 0],
                                  s['depth'][..., 0])
    np.testing.assert_array_equal(out['gt_seg_map'][1::2, 1::2],
                                  s['gt_seg_map'])
    # rgb bilinear: values between neighbours, not 2x2 repeats
    repeated = np.repeat(np.repeat(s['rgb'][..., 0], 2, 0), 2, 1)
    assert not np.array_equal(out['rgb'][..., 0], repeated)
    assert out['rgb'][1, 0, 0] == 2  # between rows 0 and 1 (0 and 6)
    with pytest.raises(ValueError, match=r'ratio_range=\(2.0, 1.0\)'):
        MultiModalRandomResize(ratio_range=(2.0, 1.0))


def test_random_hsv():
    from fdkd_plugin.datasets.transforms import RandomHSV
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 200
    # a hue turn of 120 degrees: red -> green; saturation 0: grey; value x0.5
    np.testing.assert_array_equal(
        RandomHSV.jitter(red, 120.0, 1.0, 1.0)[0, 0], [0, 200, 0])
    np.testing.assert_array_equal(
        RandomHSV.jitter(red, 0.0, 0.0, 1.0)[0, 0], [200, 200, 200])
    np.testing.assert_array_equal(
        RandomHSV.jitter(red, 0.0, 1.0, 0.5)[0, 0], [100, 0, 0])
    np.testing.assert_array_equal(RandomHSV.jitter(red, 0.0, 1.0, 1.0), red)
    s = _coded_sample(8, 8)
    np.random.seed(0)
    out = RandomHSV()(dict(s))
    assert out['rgb'].dtype == np.uint8 and not np.array_equal(
        out['rgb'], s['rgb'])
    assert out['depth'] is s['depth']  # depth is not a colour image
    assert RandomHSV(prob=0.0)(dict(s))['rgb'] is s['rgb']
    with pytest.raises(ValueError, match='needs a uint8'):
        RandomHSV()(dict(s, rgb=s['rgb'].astype(np.float32)))
    with pytest.raises(ValueError, match='hue_delta=200'):
        RandomHSV(hue_delta=200)
    with pytest.raises(ValueError, match=r'value_range=\(1.2, 0.8\)'):
        RandomHSV(value_range=(1.2, 0.8))


def test_preprocessor_normalizes_and_pads():
    from fdkd_plugin.datasets.transforms import PackMultiModalInputs
    s = _coded_sample(4, 6)
    packed = PackMultiModalInputs(modalities=('rgb', 'depth'))(dict(s))
    out = _preprocess([packed], norm_cfg=NORM)
    np.testing.assert_array_equal(
        out['inputs']['rgb'][0].permute(1, 2, 0).numpy(),
        (s['rgb'].astype(np.float32) - MEAN) / STD)  # bit for bit
    np.testing.assert_array_equal(
        out['inputs']['depth'][0].permute(1, 2, 0).numpy(),
        (s['depth'] - np.float32(0.5)) / np.float32(0.5))
    # a modality without norm_cfg is only cast
    out = _preprocess([packed], norm_cfg=dict(rgb=NORM['rgb']))
    assert out['inputs']['depth'].dtype == torch.float32
    assert torch.equal(out['inputs']['depth'][0], packed['inputs']['depth'])
    with pytest.raises(ValueError, match=r"norm_cfg\['rgb'\] has 2 values "
                       'for inputs with 3 channels'):
        _preprocess([packed], norm_cfg=dict(rgb=dict(mean=[0, 0],
                                                     std=[1, 1])))
    with pytest.raises(ValueError, match=r"\['depth'\] std=\[0.0\] must "
                       'be > 0'):
        _preprocess([packed], norm_cfg=dict(depth=dict(mean=[0], std=[0])))
    with pytest.raises(ValueError, match=r"pad_to='max'"):
        _preprocess([packed], pad_to='max')
    out = _preprocess([packed], norm_cfg=NORM, pad_to=(6, 7), pad_val=-1.0)
    rgb, depth = out['inputs']['rgb'][0], out['inputs']['depth'][0]
    assert depth.shape == (1, 6, 7) and rgb.shape == (3, 6, 7)
    assert (depth[:, 4:] == -1).all() and (depth[:, :, 6:] == -1).all()
    sample = out['data_samples'][0]
    seg = sample.gt_sem_seg.data[0]
    assert (seg[4:] == 255).all()
    np.testing.assert_array_equal(seg[:4, :6].numpy(), s['gt_seg_map'])
    assert sample.pad_shape == (6, 7) and sample.padding_size == (0, 1, 0, 2)


def test_pack_and_preprocessor_batch(tiny_nyu):
    from fdkd_plugin.datasets import NYUDepthV2Dataset
    from fdkd_plugin.datasets.transforms import PackMultiModalInputs
    from fdkd_plugin.registry import TRANSFORMS
    ds = NYUDepthV2Dataset(
        data_root=str(tiny_nyu),
        pipeline=[
            dict(type='fdkd.LoadRGBD'),
            dict(type='mmseg.LoadAnnotations'),
            dict(type='fdkd.MultiModalRandomResize'),
            dict(type='fdkd.MultiModalRandomCrop', cat_max_ratio=0.75),
            dict(type='fdkd.MultiModalRandomFlip'),
            dict(type='fdkd.RandomHSV'),
            dict(type='fdkd.PackMultiModalInputs',
                 modalities=('rgb', 'depth')),
        ])
    data = _preprocess([ds[i] for i in range(4)], norm_cfg=NORM,
                       pad_to='ori_shape')
    assert data['inputs']['rgb'].shape == (4, 3, 48, 64)
    assert data['inputs']['depth'].shape == (4, 1, 48, 64)
    samples = data['data_samples']
    assert [s.gt_sem_seg.data.shape for s in samples] == [(1, 48, 64)] * 4
    assert all(s.pad_shape == (48, 64) for s in samples)
    depth_only = _preprocess([ds[i] for i in range(4)], modality='depth',
                             norm_cfg=NORM, pad_to='ori_shape')
    assert depth_only['inputs'].shape == (4, 1, 48, 64)
    with pytest.raises(KeyError, match="modality 'depth' is missing"):
        PackMultiModalInputs(modalities=('rgb', 'depth'))(
            dict(rgb=np.zeros((2, 2, 3)), seg_fields=[]))
    with pytest.raises(ValueError, match='without duplicates'):
        PackMultiModalInputs(modalities=('rgb', 'rgb'))
    # the transforms that moved say where to
    for name, match in (('MultiModalNormalize', 'norm_cfg'),
                        ('MultiModalPad', 'pad_to'),
                        ('PackMultiModalSegInputs', 'PackMultiModalInputs')):
        with pytest.raises(TypeError,
                           match=f'fdkd.{name} is gone: .*{match}'):
            TRANSFORMS.build(dict(type=name))
