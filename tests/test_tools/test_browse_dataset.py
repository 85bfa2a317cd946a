"""tools/visualization/browse_dataset.py: one PNG per sample after the
pipeline, one panel per modality, on the AV-digits and NYU fixtures; the
drawn images are not blank."""
import numpy as np
import pytest
import torch

from fdkd_helpers import load_script

browse = load_script('tools/visualization/browse_dataset.py')


def _not_blank(png):
    import matplotlib.image as mpimg
    img = mpimg.imread(png)[..., :3]
    # a figure of white margins and one flat colour per panel has few
    # distinct colours; a drawn spectrogram or frame has hundreds
    colours = np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    return len(colours) > 100 and img.std() > 0.05


def test_avdigits_samples_are_drawn(tiny_avdigits, tmp_path):
    out = tmp_path / 'vis'
    written = browse.main([
        'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
        'visual.py', '-n', '3',
        '--output-dir', str(out), '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_avdigits}'
    ])
    assert [p.rsplit('/', 1)[1] for p in written] == [
        '000000.png', '000001.png', '000002.png']
    assert all(_not_blank(p) for p in written)
    # --seed draws other samples, reproducibly
    again = browse.main([
        'configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
        'visual.py', '-n', '2', '--seed',
        '3', '--output-dir', str(tmp_path / 'vis2'), '--phase', 'val',
        '--cfg-options', f'val_dataloader.dataset.data_root={tiny_avdigits}'
    ])
    assert len(again) == 2 and again != written[:2]


def test_nyu_rgb_depth_and_mask_are_drawn(tmp_path):
    nyu = load_script('tests/test_datasets/test_nyu_depth_v2.py')
    root = nyu.convert_tiny(tmp_path)
    written = browse.main([
        'configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-'
        'rgb.py', '-n', '2', '--phase', 'val',
        '--output-dir', str(tmp_path / 'vis'), '--cfg-options',
        f'val_dataloader.dataset.data_root={root}'
    ])
    assert len(written) == 2 and all(_not_blank(p) for p in written)
    sample = browse.DATASETS.build(
        __import__('mmengine').Config.fromfile(
            'configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-'
            'rgb.py').val_dataloader.dataset.
        to_dict() | {'data_root': str(root)})[0]
    panels, title = browse.sample_panels(sample, None)
    assert [(name, kind) for name, kind, _ in panels][-1] == (
        'segmentation mask', 'mask')
    assert {kind for _, kind, _ in panels} >= {'image', 'map', 'mask'}


def test_panels_by_input_shape():
    kinds = lambda name, x: [(n, k) for n, k, _ in browse.input_panels(name, x)]  # noqa: E731,E501
    assert kinds('audio', torch.rand(1, 129, 63)) == [('audio', 'spectrogram')]
    assert kinds('visual', torch.rand(3, 3, 8, 8)) == [
        ('visual frame 0', 'image'), ('visual frame 1', 'image'),
        ('visual frame 2', 'image')]
    assert kinds('depth', torch.rand(1, 8, 8)) == [('depth', 'map')]
    (_, kind, text), = browse.input_panels('text', torch.tensor([101, 7, 102]))
    assert (kind, text) == ('text', '101 7 102')
    with pytest.raises(ValueError, match=r"'x' has shape \(2, 2, 2, 2, 2\)"):
        browse.input_panels('x', torch.rand(2, 2, 2, 2, 2))


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(SystemExit, match='nope.py does not exist'):
        browse.main(['nope.py'])
    with pytest.raises(SystemExit, match='--show-number 0'):
        browse.main(['configs/fdkd/fdkd_r18-w32_1xb32-12e_avdigits-audio-from-'
                     'visual.py', '-n', '0'])
