"""Tests of tools/dataset_converters/make_avdigits.py (AV-digits generator).

The generated sets are tiny (20/10/10 clips, 3 languages) so that the whole
file runs in well under a minute on 2 cores.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import wave
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from fdkd_helpers import load_script

pytest.importorskip('espeakng_loader')
pytest.importorskip('sklearn')
cv2 = pytest.importorskip('cv2')

# loaded under a private module name (not in sys.modules): the spawn-ed
# synthesis workers must not depend on how the script was imported
mk = load_script('tools/dataset_converters/make_avdigits.py')

TINY = [
    '--num-train', '20', '--num-val', '10', '--num-test', '10', '--languages',
    'en', 'de', 'fr', '--seed', '3'
]


def generate(out: Path, *extra: str) -> int:
    return mk.main(['--out', str(out), *TINY, *extra])


def digests(root: Path) -> Dict[str, str]:
    """sha256 of every file below ``root``."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def mtimes(root: Path) -> Dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def read_csv(path: Path) -> List[List[str]]:
    return [line.split(',') for line in path.read_text().splitlines()]


def windowed_rms(x: np.ndarray, win: int) -> np.ndarray:
    n = x.size // win
    return np.sqrt(np.mean(np.square(x[:n * win].reshape(n, win)), axis=1))


@pytest.fixture(scope='module')
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('avdigits') / 'tiny'
    assert generate(out) == 0
    return out


# --------------------------------------------------------------------------
# the generated data set
# --------------------------------------------------------------------------
def test_layout_and_csv_rows(tiny: Path) -> None:
    rows = {s: read_csv(tiny / f'{s}.csv') for s in mk.SPLITS}
    assert {s: len(r) for s, r in rows.items()} == \
        {'train': 20, 'val': 10, 'test': 10}
    names = []
    for split, split_rows in rows.items():
        for i, (name, digit) in enumerate(split_rows):
            assert name == f'{split}_{i:05d}'
            assert digit in [str(d) for d in range(10)]
            names.append(name)
    assert sorted(p.stem for p in (tiny / 'AudioWAV').iterdir()) == \
        sorted(names)
    assert sorted(p.name for p in (tiny / 'Image-01-FPS').iterdir()) == \
        sorted(names)
    for name in names:
        folder = tiny / 'Image-01-FPS' / name
        assert sorted(p.name for p in folder.iterdir()) == \
            ['frame_0000.jpg', 'frame_0001.jpg', 'frame_0002.jpg']
    meta = json.loads((tiny / 'meta.json').read_text())
    assert meta['complete'] is True and meta['sample_rate'] == 22050
    assert meta['settings']['num_train'] == 20
    assert set(
        meta['versions']) >= {'numpy', 'scikit-learn', 'espeakng-loader'}
    # no temporary files left behind
    assert not [p for p in tiny.rglob('.*')]


def test_wav_format(tiny: Path) -> None:
    for path in sorted((tiny / 'AudioWAV').iterdir())[:10]:
        with wave.open(str(path), 'rb') as w:
            assert w.getnchannels() == 1
            assert w.getsampwidth() == 2
            assert w.getframerate() == 22050
            assert w.getnframes() == 22050  # 1.0 s
            x = np.frombuffer(w.readframes(w.getnframes()), '<i2')
        # peak-normalized to 0.9 full scale
        assert abs(np.abs(x).max() / 32767 - 0.9) < 1e-3


def test_frames_are_32x32_rgb_and_differ(tiny: Path) -> None:
    folder = tiny / 'Image-01-FPS' / 'train_00000'
    frames = [cv2.imread(str(folder / f'frame_{k:04d}.jpg')) for k in range(3)]
    for f in frames:
        assert f.shape == (32, 32, 3) and f.dtype == np.uint8
    # per-frame jitter: the three frames are not copies of each other
    assert np.abs(frames[0].astype(int) - frames[1]).mean() > 1.0


def test_labels_balanced(tiny: Path) -> None:
    meta = json.loads((tiny / 'meta.json').read_text())
    for split in mk.SPLITS:
        digits = [int(d) for _, d in read_csv(tiny / f'{split}.csv')]
        counts = np.bincount(digits, minlength=10)
        assert counts.max() - counts.min() <= 1
        assert counts.tolist() == meta['label_counts'][split]


def test_image_splits_disjoint_and_labels_match(tiny: Path) -> None:
    from sklearn.datasets import load_digits
    targets = load_digits().target
    meta = json.loads((tiny / 'meta.json').read_text())
    sets = {s: set(v) for s, v in meta['image_indices'].items()}
    assert not sets['train'] & sets['val']
    assert not sets['train'] & sets['test']
    assert not sets['val'] & sets['test']
    assert len(sets['train'] | sets['val'] | sets['test']) == 1797
    # ~60/15/25 % per class
    assert abs(len(sets['train']) / 1797 - 0.6) < 0.01
    for split in mk.SPLITS:
        for name, digit in read_csv(tiny / f'{split}.csv'):
            info = meta['clips'][name]
            assert info['image_index'] in sets[split]
            assert targets[info['image_index']] == int(digit) == info['digit']
            assert info['voice'].split('+')[0] in ('en', 'de', 'fr')


def test_deterministic_per_seed(tiny: Path, tmp_path: Path) -> None:
    assert generate(tmp_path / 'again') == 0
    assert digests(tmp_path / 'again') == digests(tiny)
    # another seed gives other audio and frames
    assert generate(tmp_path / 'other', '--seed', '4') == 0
    a, b = digests(tiny), digests(tmp_path / 'other')
    assert a['AudioWAV/train_00000.wav'] != b['AudioWAV/train_00000.wav']
    assert a['Image-01-FPS/train_00000/frame_0000.jpg'] != \
        b['Image-01-FPS/train_00000/frame_0000.jpg']


def test_resume_skips_done_and_redoes_missing(tiny: Path, tmp_path: Path,
                                              capsys) -> None:
    out = tmp_path / 'copy'
    shutil.copytree(tiny, out)
    ref = digests(out)
    before = mtimes(out)
    capsys.readouterr()
    assert generate(out) == 0
    assert '40 clips, 40 already done, 0 to write' in capsys.readouterr().out
    assert mtimes(out) == before  # nothing rewritten, not even meta.json
    data_files = [
        k for k in before if k != 'meta.json' and not k.endswith('.csv')
    ]

    # an interrupted run: one WAV and one frame folder missing
    (out / 'AudioWAV' / 'val_00003.wav').unlink()
    shutil.rmtree(out / 'Image-01-FPS' / 'test_00007')
    assert generate(out) == 0
    assert '38 already done, 2 to write' in capsys.readouterr().out
    assert digests(out) == ref  # redone byte for byte
    untouched = [
        k for k in data_files if 'val_00003' not in k and 'test_00007' not in k
    ]
    assert {k: mtimes(out)[k] for k in untouched} == \
        {k: before[k] for k in untouched}


def test_changed_settings_refused_unless_overwrite(tiny: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / 'copy'
    shutil.copytree(tiny, out)
    old = json.loads((tiny / 'meta.json').read_text())['settings']['snr_db']
    assert old != [20.0, 30.0]
    with pytest.raises(
            SystemExit,
            match=re.escape(
                'meta.json was written with other settings '
                f'(snr_db: {old!r} -> [20.0, 30.0])')):
        generate(out, '--snr-db', '20', '30')
    assert digests(out) == digests(tiny)  # nothing touched
    assert generate(out, '--snr-db', '20', '30', '--overwrite') == 0
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['settings']['snr_db'] == [20.0, 30.0]
    new = digests(out)
    assert new['AudioWAV/train_00000.wav'] != \
        digests(tiny)['AudioWAV/train_00000.wav']
    # frames do not depend on the SNR
    assert new['Image-01-FPS/train_00000/frame_0000.jpg'] == \
        digests(tiny)['Image-01-FPS/train_00000/frame_0000.jpg']


def test_foreign_folder_refused(tmp_path: Path) -> None:
    (tmp_path / 'AudioWAV').mkdir()
    with pytest.raises(
            SystemExit, match='holds AV-digits outputs but no '
            'meta.json'):
        generate(tmp_path)


def test_spoken_audio_is_not_silence(tmp_path: Path) -> None:
    """At 30 dB SNR the speech stands far above the noise floor; at -10 dB
    it does not: the SNR option does what it says."""
    out_hi, out_lo = tmp_path / 'hi', tmp_path / 'lo'
    assert generate(out_hi, '--snr-db', '30', '30', '--num-val', '0',
                    '--num-test', '0') == 0
    assert generate(out_lo, '--snr-db', '-10', '-10', '--num-val', '0',
                    '--num-test', '0') == 0
    ratios = {}
    for tag, out in (('hi', out_hi), ('lo', out_lo)):
        r = []
        for path in sorted((out / 'AudioWAV').iterdir()):
            with wave.open(str(path), 'rb') as w:
                x = np.frombuffer(w.readframes(w.getnframes()), '<i2') / 32768
            rms = windowed_rms(x, 551)  # 25 ms windows
            r.append(rms.max() / np.percentile(rms, 5))
        ratios[tag] = np.median(r)
    assert ratios['hi'] > 20  # speech >~ 26 dB above the quietest windows
    assert ratios['lo'] < 3


# --------------------------------------------------------------------------
# pure functions
# --------------------------------------------------------------------------
def test_render_audio_hits_the_requested_snr() -> None:
    rate, n = 22050, 22050
    t = np.arange(8000) / rate
    speech = (0.5 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
    for snr in (-5.0, 0.0, 10.0):
        params = mk.AudioParams(
            snr_db=snr,
            offset_frac=0.0,
            hum_share=0.2,
            babble_share=0.0,
            hum_hz=50.0)
        mix = mk.render_audio(speech, [], params, n,
                              np.random.default_rng(0)) / 32767.0
        assert abs(np.abs(mix).max() - 0.9) < 1e-3
        clean = np.zeros(n)
        clean[:8000] = speech / 32768.0
        gain = mix @ clean / (clean @ clean)  # noise is ~uncorrelated
        noise = mix / gain - clean
        p_s = np.mean(np.square(speech / 32768.0))
        measured = 10 * np.log10(p_s / np.mean(np.square(noise)))
        assert abs(measured - snr) < 0.5


def test_render_audio_places_speech_at_offset() -> None:
    speech = np.zeros(3000, np.int16)
    speech[1000:2000] = 20000  # 1000 loud samples, silence around
    params = mk.AudioParams(
        snr_db=40.0,
        offset_frac=1.0,
        hum_share=0.0,
        babble_share=0.0,
        hum_hz=50.0)
    mix = mk.render_audio(speech, [], params, 5000, np.random.default_rng(1))
    loud = np.flatnonzero(np.abs(mix) > 0.5 * 32767)
    assert loud[0] == 4000 and loud[-1] == 4999  # trimmed, at the very end


def test_trim_and_hum() -> None:
    x = np.array([0, 1, 0, 10000, -20000, 5, 0], np.int16)
    np.testing.assert_allclose(mk.trim_silence(x) * 32768, [10000, -20000])
    h = mk.hum(22050, 22050, 50.0, np.random.default_rng(0))
    assert abs(np.mean(h**2) - 1) < 1e-9
    spec = np.abs(np.fft.rfft(h))
    assert np.argmax(spec) == 50  # 1 Hz bins: the fundamental is strongest


def test_render_frames_clean_matches_digit() -> None:
    from sklearn.datasets import load_digits
    img = load_digits().images[0]
    vp = mk.VisualParams(
        frames=2,
        rotate_deg=0,
        scale_jitter=0,
        shift_px=0,
        contrast=(1, 1),
        occlusion_prob=0,
        noise_std=0)
    frames = mk.render_frames(img, vp, np.random.default_rng(0))
    assert len(frames) == 2 and frames[0].shape == (32, 32, 3)
    np.testing.assert_array_equal(frames[0], frames[1])  # no jitter at all
    g = mk.visual_proxy_features(frames[0]).reshape(32, 32)
    ref = cv2.resize(
        img.astype(np.float32), (24, 24), interpolation=cv2.INTER_LINEAR)
    corr = np.corrcoef(g[4:28, 4:28].ravel(), ref.ravel())[0, 1]
    assert corr > 0.9
    # corruption on: the same digit renders differently
    noisy = mk.render_frames(img, mk.VisualParams(), np.random.default_rng(0))
    assert np.abs(noisy[0].astype(int) - frames[0]).mean() > 10


def test_split_images_fractions() -> None:
    targets = np.repeat(np.arange(10), 20)
    parts = mk.split_images(targets, [0.5, 0.25, 0.25], seed=0)
    assert [len(parts[s]) for s in mk.SPLITS] == [100, 50, 50]
    for s in mk.SPLITS:
        assert np.bincount(targets[parts[s]], minlength=10).min() > 0
    assert len(np.unique(np.concatenate(list(parts.values())))) == 200


def test_espeak_speaks_numerals() -> None:
    keys = [('de', 7, 175, 50), ('en+f2', 3, 200, 40)]
    waves = mk._espeak.synth_chunk(keys)
    for w in waves:
        assert w.dtype == np.int16 and 0.15 < w.size / 22050 < 1.0
        assert np.abs(w).max() > 5000
    with pytest.raises(SystemExit, match="no voice 'xx'"):
        mk.main(['--out', '/nonexistent', '--languages', 'xx'])
    with pytest.raises(SystemExit, match="no voice variant 'zz9'"):
        mk.main(['--out', '/nonexistent', '--variants', 'zz9'])


def test_bad_arguments(capsys) -> None:
    with pytest.raises(SystemExit):
        mk.main(['--num-train', '0'])
    assert '--num-train 0 must be > 0' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mk.main(['--image-split', '0.5', '0.5', '0.5'])
    assert 'must be positive and sum to 1' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mk.main(['--snr-db', '5', '0'])
    assert '--snr-db [5.0, 0.0]: MIN > MAX' in capsys.readouterr().err


def test_strong_teacher_preset_sets_its_values_and_a_flag_wins() -> None:
    plain = mk.parse_args([])
    preset = mk.parse_args(['--preset', 'strong_teacher'])
    for key, value in mk.PRESETS['strong_teacher'].items():
        assert getattr(preset, key) == value, key
        assert getattr(plain, key) != value, key  # it changes something
    # everything else keeps the default
    changed = {k for k in vars(plain) if vars(plain)[k] != vars(preset)[k]}
    assert changed == set(mk.PRESETS['strong_teacher']) | {'preset'}
    # an explicit flag beats the preset, whatever the order
    for argv in (['--preset', 'strong_teacher', '--snr-db', '0', '5'],
                 ['--snr-db', '0', '5', '--preset', 'strong_teacher']):
        a = mk.parse_args(argv)
        assert a.snr_db == [0.0, 5.0]
        assert a.visual_noise == 0.0
    # the effective values are what meta.json records (not the preset name),
    # so a preset data set differs from the default one setting by setting
    s_plain, s_preset = mk.settings_of(plain), mk.settings_of(preset)
    assert 'preset' not in s_preset
    assert s_preset['snr_db'] == [4.0, 14.0]
    assert {k for k in s_plain if s_plain[k] != s_preset[k]} == set(
        mk.PRESETS['strong_teacher'])
