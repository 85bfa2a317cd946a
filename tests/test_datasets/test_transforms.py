"""The audio-visual transforms: numbers, shapes, errors, a full pipeline."""
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmpretrain.structures import DataSample

from mmcv.transforms import Compose

from fdkd_plugin.datasets import (AVDigitsDataset, LoadAudio, LoadFrames,
                                  LoadSpectrogram, PackMultiModalInputs,
                                  Spectrogram)
from fdkd_plugin.datasets.transforms import (MultiModalRandomFlip,
                                             MultiModalRandomResizedCrop,
                                             MultiModalResize)
from fdkd_plugin.datasets.transforms.audio import stft_magnitude
from fdkd_plugin.models import MultiModalDataPreprocessor

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


# ----------------------------------------------------------------- LoadAudio
def _ramp_wav(av_writer, n=400, sr=1000, name='ramp.wav'):
    """A float wav whose sample i holds i / 1000 (exact in float32)."""
    data = (np.arange(n) / 1000.0).astype(np.float32)
    path = av_writer.root / name
    av_writer.wav(path, data, sr=sr, subtype='FLOAT')
    return str(path), data


def test_load_audio_tiles_then_crops(av_writer):
    path, data = _ramp_wav(av_writer)  # 0.4 s at 1 kHz
    out = LoadAudio(sample_rate=1000, duration=1.0)(dict(audio_path=path))
    assert out['audio'].dtype == np.float32
    assert out['audio'].shape == (1000, )
    assert out['sample_rate'] == 1000
    # tiled 3x (1200 samples) and cut at 1000: 0..399, 0..399, 0..199
    np.testing.assert_array_equal(out['audio'],
                                  np.concatenate([data, data, data[:200]]))


def test_load_audio_random_crop_only_in_training(av_writer):
    path, data = _ramp_wav(av_writer)
    train = LoadAudio(sample_rate=1000, duration=0.25, random_crop=True)
    starts = set()
    for seed in range(20):
        np.random.seed(seed)
        wav = train(dict(audio_path=path))['audio']
        start = int(round(wav[0] * 1000))
        assert 0 <= start <= 150  # 400 - 250
        np.testing.assert_array_equal(wav, data[start:start + 250])
        starts.add(start)
    assert len(starts) > 5
    test = LoadAudio(
        sample_rate=1000, duration=0.25, random_crop=True, test_mode=True)
    for seed in range(3):
        np.random.seed(seed)
        np.testing.assert_array_equal(
            test(dict(audio_path=path))['audio'], data[:250])


def test_load_audio_clips_to_unit_range(av_writer):
    data = np.array([0.5, 1.5, -2.0, -0.25] * 10, dtype=np.float32)
    path = str(av_writer.root / 'loud.wav')
    av_writer.wav(av_writer.root / 'loud.wav', data, sr=40, subtype='FLOAT')
    clipped = LoadAudio(sample_rate=40, duration=1.0)(dict(audio_path=path))
    np.testing.assert_array_equal(clipped['audio'][:4], [0.5, 1.0, -1.0,
                                                         -0.25])
    raw = LoadAudio(
        sample_rate=40, duration=1.0, clip=False)(dict(audio_path=path))
    np.testing.assert_array_equal(raw['audio'][:4], [0.5, 1.5, -2.0, -0.25])


def test_load_audio_resamples_and_downmixes(av_writer):
    sr_in, f0 = 2000, 100.0
    t = np.arange(sr_in) / sr_in
    tone = 0.5 * np.sin(2 * np.pi * f0 * t)
    stereo = np.stack([tone + 0.2, tone - 0.2], axis=1)  # mean = tone
    path = str(av_writer.root / 'stereo.wav')
    av_writer.wav(av_writer.root / 'stereo.wav', stereo, sr=sr_in,
                  subtype='FLOAT')
    out = LoadAudio(sample_rate=1000, duration=1.0)(dict(audio_path=path))
    assert out['audio'].shape == (1000, )
    expect = 0.5 * np.sin(2 * np.pi * f0 * np.arange(1000) / 1000)
    # away from the edges the band-limited resampler is near exact
    np.testing.assert_allclose(out['audio'][50:950], expect[50:950],
                               atol=0.01)
    both = LoadAudio(
        sample_rate=None, duration=None, mono=False)(dict(audio_path=path))
    assert both['audio'].shape == (2, 2000)
    assert both['sample_rate'] == 2000
    np.testing.assert_allclose(both['audio'][0] - both['audio'][1], 0.4,
                               atol=1e-6)


def test_load_audio_cuts_to_event_span(av_writer):
    path, data = _ramp_wav(av_writer, n=1000)
    out = LoadAudio(
        sample_rate=1000, duration=0.3)(
            dict(audio_path=path, audio_start=0.2, audio_end=0.5))
    np.testing.assert_array_equal(out['audio'], data[200:500])
    # a 0.1 s event tiled to 0.3 s
    out = LoadAudio(
        sample_rate=1000, duration=0.3)(
            dict(audio_path=path, audio_start=0.9, audio_end=1.0))
    np.testing.assert_array_equal(out['audio'], np.tile(data[900:], 3))
    with pytest.raises(ValueError, match=r'ramp\.wav: span \[2\.0, 3\.0\]'):
        LoadAudio(sample_rate=1000)(
            dict(audio_path=path, audio_start=2.0, audio_end=3.0))


def test_load_audio_corrupt_and_missing_files(av_writer):
    bad = av_writer.root / 'corrupt.wav'
    bad.write_bytes(b'RIFF\x10\x00\x00\x00WAVEnot really a wav file')
    with pytest.raises(OSError, match=r'cannot read audio file .*corrupt'):
        LoadAudio()(dict(audio_path=str(bad)))
    # backend='torchaudio' does not try soundfile first
    with pytest.raises(OSError, match=r'corrupt\.wav: torchaudio: '):
        LoadAudio(backend='torchaudio')(dict(audio_path=str(bad)))
    with pytest.raises(FileNotFoundError, match=r'gone\.wav'):
        LoadAudio()(dict(audio_path=str(av_writer.root / 'gone.wav')))
    with pytest.raises(KeyError, match=r"clip 'c9'.*'audio_path'"):
        LoadAudio()(dict(clip_id='c9', audio_path=None))


def _riff(fmt: bytes, frames: bytes, extra: bytes = b'',
          magic: bytes = b'RIFF') -> bytes:
    """A WAV file by hand: an ``extra`` chunk between ``fmt `` and
    ``data`` (as some writers put LIST chunks there); no byte-order
    swapping, so a ``RIFX`` file carries its big-endian fields in ``fmt``.
    """
    order = 'big' if magic == b'RIFX' else 'little'

    def chunk(cid: bytes, body: bytes) -> bytes:
        pad = b'\0' * (len(body) & 1)
        return cid + len(body).to_bytes(4, order) + body + pad

    body = b'WAVE' + chunk(b'fmt ', fmt) + extra + chunk(b'data', frames)
    return magic + len(body).to_bytes(4, order) + body


def _fmt(tag: int, channels: int, rate: int, bits: int,
         order: str = 'little') -> bytes:
    align = channels * bits // 8
    return b''.join(
        v.to_bytes(n, order)
        for v, n in ((tag, 2), (channels, 2), (rate, 4), (rate * align, 4),
                     (align, 2), (bits, 2)))


@pytest.mark.parametrize('channels', [1, 2])
def test_load_audio_pcm16_read_in_memory_equals_soundfile(
        av_writer, channels):
    """The in-memory 16-bit PCM reader gives soundfile's float32 values,
    bit for bit, with a chunk before the samples and an odd-sized one;
    other encodings and byte orders go to soundfile, as before."""
    import soundfile
    rng = np.random.default_rng(channels)
    pcm = rng.integers(-32768, 32767, (700, channels), dtype=np.int16)
    odd = b'LIST' + (3).to_bytes(4, 'little') + b'abc\0'
    path = av_writer.root / f'pcm16_{channels}.wav'
    path.write_bytes(
        _riff(_fmt(1, channels, 700, 16), pcm.astype('<i2').tobytes(), odd))
    ref = soundfile.read(str(path), dtype='float32', always_2d=True)[0].T
    wav, sr = LoadAudio._read_pcm16_wav(str(path))
    assert sr == 700 and wav.dtype == np.float32 and wav.shape == ref.shape
    np.testing.assert_array_equal(wav, ref)
    out = LoadAudio(sample_rate=700, duration=1.0, mono=False)(
        dict(audio_path=str(path)))['audio']
    np.testing.assert_array_equal(out.reshape(channels, -1), ref)
    # 24-bit PCM, float and big-endian 16-bit: not this reader's
    for name, data in (
            ('pcm24', _riff(_fmt(1, channels, 700, 24), b'\0' * 6 * 10)),
            ('float', _riff(_fmt(3, channels, 700, 32), b'\0' * 8 * 10)),
            ('rifx', _riff(_fmt(1, channels, 700, 16, 'big'),
                           pcm.astype('>i2').tobytes(), magic=b'RIFX'))):
        other = av_writer.root / f'{name}_{channels}.wav'
        other.write_bytes(data)
        assert LoadAudio._read_pcm16_wav(str(other)) is None, name
    # a RIFX file still loads, through soundfile, to the same values
    out = LoadAudio(sample_rate=700, duration=1.0, mono=False)(
        dict(audio_path=str(av_writer.root / f'rifx_{channels}.wav')))
    np.testing.assert_array_equal(out['audio'].reshape(channels, -1), ref)


def test_wav_header_from_bytes_and_from_disk_agree(av_writer):
    from fdkd_plugin.datasets.checks import (WavTruncatedError,
                                             parse_wav_bytes, read_wav_header)
    data = _riff(_fmt(1, 2, 8000, 16), b'\1\0' * 2 * 50,
                 b'junk' + (5).to_bytes(4, 'little') + b'12345\0')
    path = av_writer.root / 'both.wav'
    path.write_bytes(data)
    head = read_wav_header(str(path))
    assert head == parse_wav_bytes(data, str(path))
    assert (head.frames, head.sample_rate, head.channels, head.bits,
            head.format_tag, head.big_endian) == (50, 8000, 2, 16, 1, False)
    assert data[head.data_offset - 8:head.data_offset - 4] == b'data'
    # cut short: the same error from both, and from the loader
    cut = av_writer.root / 'cut.wav'
    cut.write_bytes(data[:-40])
    for read in (lambda: read_wav_header(str(cut)),
                 lambda: parse_wav_bytes(data[:-40], str(cut)),
                 lambda: LoadAudio()(dict(audio_path=str(cut)))):
        with pytest.raises(WavTruncatedError,
                           match=r'cut\.wav is truncated: its header '
                           r'declares 50 samples, the file holds 40'):
            read()


@pytest.mark.parametrize('kwargs, match', [
    (dict(sample_rate=0), r'sample_rate=0'),
    (dict(duration=-1.0), r'duration=-1.0'),
    (dict(backend='ffmpeg'), r"backend='ffmpeg'"),
])
def test_load_audio_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LoadAudio(**kwargs)


# --------------------------------------------------------------- Spectrogram
@pytest.mark.parametrize('signal', ['noise', 'tone'])
def test_spectrogram_matches_librosa(signal):
    import librosa  # the reference (requirements/tests.txt)
    if signal == 'noise':
        rng = np.random.default_rng(0)
        wav = np.clip(rng.normal(0, 0.3, 66150), -1, 1).astype(np.float32)
    else:  # a pure tone: most bins are tiny, where log(|S| + eps) is steep
        t = np.arange(66150) / 22050
        wav = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = Spectrogram()(dict(audio=wav))['audio']
    assert out.dtype == np.float32
    assert out.shape == (1, 257, 188)  # 1 + 66150 // 353 frames
    ref = np.log(np.abs(librosa.stft(wav, n_fft=512, hop_length=353)) + 1e-7)
    assert ref.shape == (257, 188)
    np.testing.assert_allclose(out[0], ref, atol=1e-4, rtol=0)


def log_spec_error(got: np.ndarray, ref: np.ndarray, peak_db: float = 80.0,
                   eps: float = 1e-7) -> float:
    """The stated bound's measure: over the bins of ``ref`` (|S|) within
    ``peak_db`` of its peak, ||log(got + eps) - log(ref + eps)||_2 over the
    L2 norm of the centred log(ref + eps)."""
    keep = ref >= ref.max() * 10**(-peak_db / 20)
    a = np.log(ref[keep] + eps)
    b = np.log(got[keep].astype(np.float64) + eps)
    return float(np.linalg.norm(b - a) / np.linalg.norm(a - a.mean()))


def test_spectrogram_float32_within_its_bound(tiny_avdigits):
    """precision='float32' on real (generated) AV-digits clips: within the
    docstring's bound of librosa's float64 STFT and of our float64 path
    (1e-4; measured ~4e-6), the same shape, z-scoring in float32 too; the
    float64 path is unchanged by the option."""
    import glob

    import librosa
    import soundfile
    paths = sorted(glob.glob(f'{tiny_avdigits}/AudioWAV/*.wav'))[:12]
    assert len(paths) == 12
    worst = 0.0
    for path in paths:
        wav = soundfile.read(path, dtype='float32')[0]
        ref = np.abs(librosa.stft(wav, n_fft=512, hop_length=353))
        f32 = stft_magnitude(wav, precision='float32')
        assert f32.dtype == np.float32 and f32.shape == ref.shape
        worst = max(worst, log_spec_error(f32, ref),
                    log_spec_error(f32, stft_magnitude(wav)))
        fast = Spectrogram(precision='float32', normalize='zscore')(
            dict(audio=wav))['audio']
        exact = Spectrogram(normalize='zscore')(dict(audio=wav))['audio']
        assert fast.dtype == exact.dtype == np.float32
        keep = ref >= ref.max() * 1e-4
        assert np.abs(fast[0][keep] - exact[0][keep]).max() < 1e-3
    assert 0 < worst < 1e-4
    with pytest.raises(ValueError, match=r"precision='float16'"):
        Spectrogram(precision='float16')


@pytest.mark.parametrize('center, pad_mode', [(True, 'constant'),
                                               (True, 'reflect'),
                                               (True, 'replicate'),
                                               (True, 'circular'),
                                               (False, 'constant')])
@pytest.mark.parametrize('precision', ['float64', 'float32'])
def test_stft_magnitude_is_torch_stft(center, pad_mode, precision):
    """The framed FFT gives torch.stft's spectrum bit for bit (what the
    transform computed before): frames, padding, a window shorter than
    n_fft (centred) and two channels."""
    rng = np.random.default_rng(0)
    dtype = getattr(torch, precision)
    for wav, n_fft, hop, win_length, window in (
            (rng.normal(0, 0.1, 1500), 256, 353, None, 'hann'),
            (rng.normal(0, 0.1, (2, 900)), 255, 64, 200, 'hamming'),
            (rng.normal(0, 0.1, 700), 128, 100, 128, 'boxcar')):
        wav = wav.astype(np.float32)
        length = win_length or n_fft
        win = {'hann': torch.hann_window, 'hamming': torch.hamming_window,
               'boxcar': lambda n, periodic, dtype: torch.ones(n, dtype=dtype)
               }[window](length, periodic=True, dtype=dtype)
        ref = torch.stft(
            torch.as_tensor(wav, dtype=dtype), n_fft, hop, length, win,
            center, pad_mode, False, True, return_complex=True)
        ref = np.abs(ref.numpy())  # numpy's complex abs, as ours takes it
        got = stft_magnitude(wav, n_fft, hop, win_length, window, center,
                             pad_mode, precision)
        assert got.dtype == ref.dtype and got.flags.c_contiguous
        np.testing.assert_array_equal(got, ref)
    with pytest.raises(ValueError, match=r'100 samples.*n_fft=128'):
        stft_magnitude(np.zeros(100), n_fft=128, center=False)


def test_spectrogram_hand_computed_dft():
    k0 = 8
    x = np.cos(2 * np.pi * k0 * np.arange(512) / 512)
    spec = Spectrogram(
        hop_length=512, window='boxcar', center=False,
        log=False)(dict(audio=x))['audio']
    assert spec.shape == (1, 257, 1)
    expect = np.zeros(257)
    expect[k0] = 256.0  # |sum cos * e^{-i...}| = N / 2
    np.testing.assert_allclose(spec[0, :, 0], expect, atol=1e-4)


def test_spectrogram_frames_and_normalization():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 1000)
    nocenter = Spectrogram(
        hop_length=159, center=False)(dict(audio=x.copy()))['audio']
    assert nocenter.shape == (1, 257, 4)  # 1 + (1000 - 512) // 159
    plain = Spectrogram()(dict(audio=x.copy()))['audio']
    assert plain.shape == (1, 257, 3)  # 1 + 1000 // 353
    z = Spectrogram(normalize='zscore')(dict(audio=x.copy()))['audio']
    assert abs(float(z.mean())) < 1e-5
    assert abs(float(z.std()) - 1) < 1e-4
    ms = Spectrogram(
        normalize='mean_std', mean=-2.0, std=4.0)(dict(audio=x.copy()))
    np.testing.assert_allclose(ms['audio'], (plain + 2.0) / 4.0, atol=1e-5)
    stereo = Spectrogram()(dict(audio=np.stack([x, -x])))['audio']
    assert stereo.shape == (2, 257, 3)
    np.testing.assert_allclose(stereo[1], plain[0], atol=1e-5)  # |S(-x)|


@pytest.mark.parametrize('kwargs, match', [
    (dict(n_fft=0), r'n_fft=0'),
    (dict(win_length=1024), r'win_length=1024 must be in \[1, n_fft=512\]'),
    (dict(window='kaiser'), r"window='kaiser'"),
    (dict(normalize='minmax'), r"normalize='minmax'"),
    (dict(normalize='mean_std', mean=1.0), r'needs mean and std'),
    (dict(mean=1.0, std=2.0), r'only used with'),
])
def test_spectrogram_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Spectrogram(**kwargs)


# ----------------------------------------------------------- LoadSpectrogram
def test_load_spectrogram_pkl_npy_resize(av_writer):
    rng = np.random.default_rng(2)
    arr = rng.normal(size=(257, 10)).astype(np.float32)
    av_writer.spec(av_writer.root / 'a.pkl', arr)
    av_writer.spec(av_writer.root / 'a.npy', arr[None])
    for name in ('a.pkl', 'a.npy'):
        out = LoadSpectrogram()(dict(spec_path=str(av_writer.root / name)))
        assert out['audio'].shape == (1, 257, 10)
        assert out['audio'].dtype == np.float32
        np.testing.assert_array_equal(out['audio'][0], arr)
    resized = LoadSpectrogram(target_shape=(257, 24))(
        dict(spec_path=str(av_writer.root / 'a.pkl')))['audio']
    assert resized.shape == (1, 257, 24)
    ref = cv2.resize(arr, (24, 257), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(resized[0], ref, atol=1e-4)


def test_load_spectrogram_errors(av_writer):
    av_writer.spec(av_writer.root / 'cube.pkl', np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r'cube\.pkl .*shape \(2, 3, 4\)'):
        LoadSpectrogram()(dict(spec_path=str(av_writer.root / 'cube.pkl')))
    (av_writer.root / 'junk.pkl').write_bytes(b'not a pickle')
    with pytest.raises(OSError, match=r'junk\.pkl'):
        LoadSpectrogram()(dict(spec_path=str(av_writer.root / 'junk.pkl')))
    with pytest.raises(KeyError, match=r"clip 'c1'.*'spec_path'"):
        LoadSpectrogram()(dict(clip_id='c1'))
    with pytest.raises(ValueError, match=r'target_shape=\(257,\)'):
        LoadSpectrogram(target_shape=(257, ))


# --------------------------------------------------------------- LoadFrames
def _frames(folder, num_frames=1, test_mode=False, scale=None, flip=None,
            to_rgb=True, **crop):
    """LoadFrames, then the paired geometry as the configs chain it."""
    ts = [LoadFrames(num_frames, to_rgb=to_rgb, test_mode=test_mode)]
    if scale is not None:
        ts.append(MultiModalResize(scale) if test_mode else
                  MultiModalRandomResizedCrop(scale, **crop))
    if flip is not None:
        ts.append(MultiModalRandomFlip(flip))
    return Compose(ts)(dict(frames_dir=str(folder)))


def _normalized(visual):
    """What the visual network sees: the packed uint8 frames normalized by
    the config's data preprocessor (ImageNet statistics)."""
    packed = PackMultiModalInputs(modalities='visual')(
        dict(visual=visual, modal_fields=['visual']))['inputs']['visual']
    pre = MultiModalDataPreprocessor(
        norm_cfg=dict(visual=dict(mean=MEAN.tolist(), std=STD.tolist())))
    return pre(dict(inputs=dict(visual=[packed])))['inputs']['visual'][0]


def test_load_frames_test_indices_are_centres(av_writer):
    folder = av_writer.root / 'clip'
    av_writer.frames(folder, n=10)
    one = LoadFrames(test_mode=True)
    assert one.sample_indices(10).tolist() == [5]
    assert one.sample_indices(3).tolist() == [1]
    three = LoadFrames(num_frames=3, test_mode=True)
    # segments [0, 3) [3, 6) [6, 10)
    assert three.sample_indices(10).tolist() == [1, 4, 8]
    assert three.sample_indices(9).tolist() == [1, 4, 7]
    assert three.sample_indices(2).tolist() == [0, 0, 1]  # frames repeat
    out = _frames(folder, num_frames=3, test_mode=True, scale=4)
    assert out['frame_inds'].tolist() == [1, 4, 8]
    assert out['visual'].shape == (3, 4, 4, 3)
    assert out['visual'].dtype == np.uint8
    assert out['modal_fields'] == ['visual']
    # grey level of frame i is 10 * i
    assert out['visual'][:, 0, 0, 0].tolist() == [10, 40, 80]
    np.testing.assert_allclose(_normalized(out['visual'])[:, 0, 0, 0],
                               (np.array([10, 40, 80]) - MEAN[0]) / STD[0],
                               atol=1e-5)


def test_load_frames_train_indices_one_per_segment():
    t = LoadFrames(num_frames=3)
    seen = [set(), set(), set()]
    for seed in range(30):
        np.random.seed(seed)
        inds = t.sample_indices(10)
        assert 0 <= inds[0] < 3 and 3 <= inds[1] < 6 and 6 <= inds[2] < 10
        for s, i in zip(seen, inds):
            s.add(int(i))
    assert [len(s) for s in seen] == [3, 3, 4]  # every frame gets drawn


def _asym_frame(h=16, w=20):
    """A BGR frame whose every pixel differs: any crop or flip shows."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 12, yy * 15, (xx + yy) * 7],
                    axis=-1).astype(np.uint8)


def test_frames_of_a_clip_share_crop_and_flip(av_writer):
    folder = av_writer.root / 'same'
    img = _asym_frame()
    av_writer.frames(folder, images=[img] * 4, ext='.png')
    flips, crops = set(), set()
    for seed in range(12):
        np.random.seed(seed)
        out = _frames(folder, num_frames=4, scale=12, flip=0.5)
        assert out['visual'].shape == (4, 12, 12, 3)
        for k in range(1, 4):  # identical frames in -> identical crops out
            np.testing.assert_array_equal(out['visual'][k], out['visual'][0])
        flips.add(out['flip'])
        crops.add(out['crop_bbox'])
    assert flips == {True, False}
    assert len(crops) > 1


def test_frames_flip_and_full_crop_values(av_writer):
    folder = av_writer.root / 'asym'
    img = _asym_frame()  # 16 x 20
    av_writer.frames(folder, images=[img] * 2, ext='.png')
    rgb = img[..., ::-1]
    full = dict(scale=(16, 20), crop_scale=(1.0, 1.0),
                crop_ratio=(20 / 16, 20 / 16))
    flipped = _frames(folder, num_frames=2, flip=1.0, **full)
    assert flipped['crop_bbox'] == (0, 16, 0, 20)
    np.testing.assert_array_equal(flipped['visual'][0], rgb[:, ::-1])
    np.testing.assert_array_equal(flipped['visual'][1], rgb[:, ::-1])
    kept = _frames(folder, flip=0.0, **full)
    assert kept['visual'].shape == (16, 20, 3)
    np.testing.assert_array_equal(kept['visual'], rgb)
    np.testing.assert_allclose(
        _normalized(kept['visual']),
        ((rgb.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1),
        atol=1e-5)


def test_frames_normalization_and_channel_order(av_writer):
    folder = av_writer.root / 'flat'
    bgr = np.zeros((6, 6, 3), dtype=np.uint8)
    bgr[...] = (50, 100, 200)  # B, G, R
    av_writer.frames(folder, images=[bgr], ext='.png')
    out = _frames(folder, test_mode=True, scale=8)
    assert out['visual'].shape == (8, 8, 3)
    assert out['frame_inds'].tolist() == [0]
    assert out['img_shape'] == (8, 8) and out['ori_shape'] == (6, 6)
    expect = (np.array([200, 100, 50]) - MEAN) / STD
    np.testing.assert_allclose(
        _normalized(out['visual'])[:, 3, 3], expect, atol=1e-5)
    bgr_out = _frames(folder, test_mode=True, scale=8, to_rgb=False)
    assert bgr_out['visual'][0, 0].tolist() == [50, 100, 200]


def test_load_frames_lists_jpg_and_png_by_name(av_writer):
    folder = av_writer.root / 'mixed'
    av_writer.frames(folder, n=1, ext='.png', name='b')
    av_writer.frames(folder, n=1, ext='.jpg', name='a')
    av_writer.frames(folder, n=1, ext='.jpg', name='c')
    (folder / 'd.txt').write_text('not a frame')
    files = LoadFrames().list_frames(str(folder))
    assert [osp.basename(f) for f in files] == ['a.jpg', 'b.png', 'c.jpg']


def test_load_frames_errors(av_writer):
    empty = av_writer.root / 'empty'
    empty.mkdir()
    (empty / 'notes.txt').write_text('no frames here')
    with pytest.raises(FileNotFoundError,
                       match=re.escape(str(empty)) + ' holds no'):
        LoadFrames()(dict(frames_dir=str(empty)))
    with pytest.raises(KeyError, match=r"clip 'c2'.*'frames_dir'"):
        LoadFrames()(dict(clip_id='c2', frames_dir=None))
    with pytest.raises(ValueError, match=r'num_frames=0'):
        LoadFrames(num_frames=0)
    # the arguments that moved out of LoadFrames say where they went
    with pytest.raises(TypeError, match=r'scale=224 to fdkd.MultiModalRandom'
                       r'ResizedCrop.*flip_prob=0.5 to fdkd.MultiModal'
                       r'RandomFlip\(prob\)'):
        LoadFrames(scale=224, flip_prob=0.5)
    for kwargs, match in [(dict(scale=8, crop_scale=(0.5, 0.1)),
                           r'crop_scale='),
                          (dict(scale=(224, )), r'scale=\(224,\)')]:
        with pytest.raises(ValueError, match=match):
            MultiModalRandomResizedCrop(**kwargs)
    with pytest.raises(ValueError, match=r'prob=2'):
        MultiModalRandomFlip(prob=2)


# ---------------------------------------------------- PackMultiModalInputs
def test_pack_multimodal_inputs():
    audio = np.arange(10, dtype=np.float32).reshape(1, 2, 5)
    visual = np.ones((3, 4, 4), dtype=np.float32)
    results = dict(audio=audio, visual=visual, gt_label=3, clip_id='abc',
                   sample_idx=7, frame_inds=np.array([1]), extra='x')
    packed = PackMultiModalInputs()(results)
    assert set(packed) == {'inputs', 'data_samples'}
    inputs = packed['inputs']
    assert set(inputs) == {'audio', 'visual'}
    assert isinstance(inputs['audio'], torch.Tensor)
    assert inputs['audio'].dtype == torch.float32
    assert inputs['audio'].shape == (1, 2, 5)
    assert torch.equal(inputs['audio'], torch.from_numpy(audio))
    ds = packed['data_samples']
    assert isinstance(ds, DataSample)
    assert ds.gt_label.tolist() == [3]
    assert ds.clip_id == 'abc' and ds.sample_idx == 7
    assert ds.frame_inds.tolist() == [1]
    assert 'extra' not in ds.metainfo_keys()
    audio_only = PackMultiModalInputs(modalities='audio')(
        dict(audio=audio, clip_id='abc'))
    assert list(audio_only['inputs']) == ['audio']
    assert 'gt_label' not in audio_only['data_samples']
    with pytest.raises(KeyError, match=r"modality 'visual' .*sample 'abc'"):
        PackMultiModalInputs()(dict(audio=audio, clip_id='abc'))
    with pytest.raises(ValueError, match=r'modalities=\(\)'):
        PackMultiModalInputs(modalities=())


def test_pack_image_fields_channels_first_and_the_task():
    """Fields named in modal_fields go channels-first in their dtype; a
    sample with seg_fields becomes an mmseg SegDataSample."""
    from mmseg.structures import SegDataSample
    frames = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    depth = np.ones((4, 5), np.float32)
    spec = np.zeros((1, 6, 7), np.float32)
    packed = PackMultiModalInputs(modalities=('visual', 'depth', 'audio'))(
        dict(visual=frames, depth=depth, audio=spec,
             modal_fields=['visual', 'depth']))
    inputs = packed['inputs']
    assert inputs['visual'].dtype == torch.uint8
    assert inputs['visual'].shape == (2, 3, 4, 5)
    assert torch.equal(inputs['visual'][1, 2],
                       torch.from_numpy(frames[1, ..., 2]))
    assert inputs['depth'].shape == (1, 4, 5)
    assert inputs['audio'].shape == (1, 6, 7)  # not an image field: as is
    assert isinstance(packed['data_samples'], DataSample)
    seg = np.full((4, 5), 3, np.uint8)
    packed = PackMultiModalInputs(modalities='depth')(
        dict(depth=depth, modal_fields=['depth'], gt_seg_map=seg,
             seg_fields=['gt_seg_map'], img_shape=(4, 5), clip_id='x'))
    sample = packed['data_samples']
    assert isinstance(sample, SegDataSample)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    assert sample.gt_sem_seg.data.shape == (1, 4, 5)
    assert sample.img_shape == (4, 5) and 'clip_id' not in sample
    with pytest.raises(ValueError, match="task='det'"):
        PackMultiModalInputs(task='det')


# ------------------------------------------------------------ full pipeline
def test_avdigits_full_pipeline(av_writer):
    rows = [('d4_en_0000', '4'), ('d1_de_0001', '1')]
    root = av_writer.cremad(rows)
    for clip, _ in rows:  # the generator's layout: 1 s mono, 3 RGB 32x32
        av_writer.wav(root / 'AudioWAV' / f'{clip}.wav', seconds=1.0)
        av_writer.frames(root / 'Image-01-FPS' / clip, n=3, size=(32, 32))
    pipeline = [
        dict(type='fdkd.LoadAudio', sample_rate=22050, duration=3.0),
        dict(type='fdkd.Spectrogram', n_fft=512, hop_length=353),
        dict(type='fdkd.LoadFrames', test_mode=True),
        dict(type='fdkd.MultiModalResize', scale=32),
        dict(type='fdkd.PackMultiModalInputs'),
    ]
    ds = AVDigitsDataset(
        ann_file='train.csv', data_root=str(root), pipeline=pipeline)
    item = ds[0]
    assert item['inputs']['audio'].shape == (1, 257, 188)
    assert item['inputs']['visual'].shape == (3, 32, 32)
    assert item['inputs']['audio'].dtype == torch.float32
    assert item['data_samples'].gt_label.tolist() == [4]
    assert item['data_samples'].clip_id == 'd4_en_0000'
    assert item['data_samples'].frame_inds.tolist() == [1]  # middle of 3
    batch = default_collate([ds[0], ds[1]])
    assert batch['inputs']['audio'].shape == (2, 1, 257, 188)
    assert batch['inputs']['visual'].shape == (2, 3, 32, 32)
    assert [d.gt_label.item() for d in batch['data_samples']] == [4, 1]
    assert osp.basename(ds.get_data_info(1)['audio_path']) == \
        'd1_de_0001.wav'
