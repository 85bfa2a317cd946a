"""Tests of tools/dataset_converters/{crema_d,ave,vggsound}.py and _video.py.

Each test writes its own short videos with PyAV into tmp_path: 3 s, 10 fps,
64x48 pixels, whose colour changes every second (so the chosen frames can be
checked), and an audio track that is a pure sine tone of known frequency.
"""
from __future__ import annotations

import pickle
import sys
from fractions import Fraction
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pytest

from fdkd_helpers import load_script

TOOLS = 'tools/dataset_converters'
crema_d = load_script(f'{TOOLS}/crema_d.py')
ave = load_script(f'{TOOLS}/ave.py')
vggsound = load_script(f'{TOOLS}/vggsound.py')
_video = crema_d._video  # the shared module the scripts import
SCRIPTS = {'crema_d': crema_d, 'ave': ave, 'vggsound': vggsound}

W, H, FPS, SECONDS = 64, 48, 10, 3
# red level of the frames shown during second k
RED = [30, 130, 230]


def write_video(path: Path,
                vcodec: str = 'mpeg4',
                acodec: Optional[str] = 'aac',
                tone_hz: float = 440.0,
                audio_rate: int = 44100,
                layout: str = 'stereo',
                seconds: int = SECONDS) -> None:
    """Write a test video: colour by second, and a sine tone as audio."""
    av = pytest.importorskip('av')
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), 'w') as out:
        vs = out.add_stream(vcodec, rate=FPS)
        vs.width, vs.height, vs.pix_fmt = W, H, 'yuv420p'
        as_ = None
        if acodec is not None:
            as_ = out.add_stream(acodec, rate=audio_rate)
            as_.layout = layout
        for i in range(seconds * FPS):
            img = np.zeros((H, W, 3), np.uint8)
            img[..., 0] = RED[(i // FPS) % len(RED)]
            img[..., 1] = 60
            frame = av.VideoFrame.from_ndarray(img, format='rgb24')
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            for pkt in vs.encode(frame):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        if as_ is not None:
            n_ch = 2 if layout == 'stereo' else 1
            size = as_.codec_context.frame_size or 1024
            t = np.arange(seconds * audio_rate) / audio_rate
            tone = (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            for start in range(0, tone.size, size):
                chunk = tone[start:start + size]
                if chunk.size < size:
                    chunk = np.pad(chunk, (0, size - chunk.size))
                planar = np.repeat(chunk[None], n_ch, axis=0)
                frame = av.AudioFrame.from_ndarray(
                    planar, format='fltp', layout=layout)
                frame.sample_rate = audio_rate
                frame.pts = start
                frame.time_base = Fraction(1, audio_rate)
                for pkt in as_.encode(frame):
                    out.mux(pkt)
            for pkt in as_.encode(None):
                out.mux(pkt)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    """Frequency (Hz) of the largest FFT magnitude."""
    x = samples.astype(np.float64) * np.hanning(samples.size)
    spec = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(samples.size, 1.0 / rate)[np.argmax(spec)])


def mtimes(root: Path) -> Dict[str, int]:
    """Modification time (ns) of every file below ``root``."""
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def check_frames(folder: Path, n: int = SECONDS) -> None:
    """``n`` frames of H x W x 3 whose colours follow the seconds."""
    cv2 = pytest.importorskip('cv2')
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f'frame_{k:05d}.jpg' for k in range(n)]
    for k, name in enumerate(names):
        bgr = cv2.imread(str(folder / name))
        assert bgr.shape == (H, W, 3)
        # 1 fps: slot k is second k; the red level tells which second it was
        assert abs(float(bgr[..., 2].mean()) - RED[k * SECONDS // n]) < 12


def check_wav(path: Path, tone_hz: float, seconds: float = SECONDS) -> None:
    """16 kHz mono, about ``seconds`` long, peak at ``tone_hz``."""
    samples, rate = _video.read_wav(path)
    assert rate == 16000
    assert samples.ndim == 1
    assert abs(samples.size / rate - seconds) < 0.1
    assert abs(peak_hz(samples, rate) - tone_hz) < 2.0
    # a 0.5 amplitude tone survives the resampling at about that level
    assert 0.4 < np.abs(samples).max() / 32768 < 0.6


# --------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------
def test_sample_times() -> None:
    np.testing.assert_allclose(_video.sample_times(3.0, 1.0), [0.5, 1.5, 2.5])
    assert len(_video.sample_times(2.6, 1.0)) == 3
    assert len(_video.sample_times(2.4, 1.0)) == 2
    assert len(_video.sample_times(0.2, 1.0)) == 1  # never zero frames
    np.testing.assert_allclose(
        _video.sample_times(1.0, 4.0), [0.125, 0.375, 0.625, 0.875])
    with pytest.raises(ValueError, match='fps=0'):
        _video.sample_times(3.0, 0)


def test_wav_round_trip(tmp_path: Path) -> None:
    x = np.array([0, 1000, -32768, 32767], np.int16)
    _video.atomic_write_bytes(tmp_path / 'a.wav', _video.encode_wav(x, 16000))
    y, rate = _video.read_wav(tmp_path / 'a.wav')
    assert rate == 16000 and y.dtype == np.int16
    np.testing.assert_array_equal(x, y)
    # floats are scaled by 32767 and clipped
    _video.atomic_write_bytes(tmp_path / 'b.wav',
                              _video.encode_wav(np.array([0.5, 2.0]), 8000))
    np.testing.assert_array_equal(
        _video.read_wav(tmp_path / 'b.wav')[0], [16384, 32767])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []
    (tmp_path / 'bad.wav').write_bytes(b'not a wav')
    with pytest.raises(_video.ConversionError, match='bad.wav'):
        _video.read_wav(tmp_path / 'bad.wav')


def test_ave_log_spectrogram_formula() -> None:
    from scipy import signal
    rate = 16000
    t = np.arange(rate * 3) / rate
    x = (0.3 * np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)
    spec = ave.log_spectrogram(x, rate)
    assert spec.shape == (257, 1004) and spec.dtype == np.float32
    assert abs(float(spec.mean())) < 1e-4 and abs(float(spec.std()) - 1) < 1e-3
    # by hand: tiled to 10 s, log(S + 1e-7), z-score
    xf = np.tile(x / 32768.0, 4)[:160000]
    s = np.log(
        signal.spectrogram(xf, fs=rate, nperseg=512, noverlap=353)[2] + 1e-7)
    np.testing.assert_allclose(
        spec, (s - s.mean()) / (s.std() + 1e-9), atol=1e-4)
    assert int(np.argmax(spec.mean(axis=1))) == 32  # 1000 Hz / 31.25 Hz


# --------------------------------------------------------------------------
# the converters
# --------------------------------------------------------------------------
def test_crema_d_frames_and_resume(tmp_path: Path, capsys) -> None:
    root = tmp_path / 'crema'
    for clip in ('1001_DFA_ANG_XX', '1002_IEO_HAP_HI'):
        write_video(
            root / 'VideoFlash' / f'{clip}.flv',
            vcodec='flv',
            acodec='mp3',
            audio_rate=44100,
            layout='mono')
    assert crema_d.main(['--root', str(root)]) == 0
    for clip in ('1001_DFA_ANG_XX', '1002_IEO_HAP_HI'):
        check_frames(root / 'Image-01-FPS' / clip)
    assert not (root / 'AudioWAV').exists()  # CREMA-D ships its audio
    before = mtimes(root / 'Image-01-FPS')
    capsys.readouterr()

    # second run: nothing to do, nothing rewritten
    assert crema_d.main(['--root', str(root)]) == 0
    assert 'converted 0, skipped (already done) 2' in capsys.readouterr().out
    assert mtimes(root / 'Image-01-FPS') == before

    # a missing clip folder is redone, the other one is left alone
    import shutil
    shutil.rmtree(root / 'Image-01-FPS' / '1002_IEO_HAP_HI')
    assert crema_d.main(['--root', str(root)]) == 0
    assert 'converted 1, skipped (already done) 1' in capsys.readouterr().out
    after = mtimes(root / 'Image-01-FPS')
    assert {k: v for k, v in after.items() if k.startswith('1001')} == \
        {k: v for k, v in before.items() if k.startswith('1001')}
    check_frames(root / 'Image-01-FPS' / '1002_IEO_HAP_HI')
    # no temporary folders left behind
    assert sorted(p.name for p in (root / 'Image-01-FPS').iterdir()) == \
        ['1001_DFA_ANG_XX', '1002_IEO_HAP_HI']


def test_ave_frames_audio_spec(tmp_path: Path) -> None:
    root = tmp_path / 'AVE_Dataset'
    write_video(
        root / 'AVE' / '-0A9suni5YA.mp4',
        tone_hz=440.0,
        audio_rate=44100,
        layout='stereo')
    assert ave.main(['--root', str(root), '--spec']) == 0
    check_frames(root / 'Image-01-FPS-SE' / '-0A9suni5YA')
    check_wav(root / 'AudioWAV' / '-0A9suni5YA.wav', 440.0)
    with open(root / 'AudioSpec' / '-0A9suni5YA.pkl', 'rb') as f:
        spec = pickle.load(f)
    assert spec.shape == (257, 1004)
    assert int(np.argmax(spec.mean(axis=1))) in (14, 15)  # 440 / 31.25 = 14.1

    before = mtimes(root)
    assert ave.main(['--root', str(root), '--spec']) == 0
    assert mtimes(root) == before
    # without --spec no pickle is made
    out2 = tmp_path / 'nospec'
    assert ave.main(['--root', str(root), '--out', str(out2)]) == 0
    assert (out2 / 'AudioWAV' / '-0A9suni5YA.wav').is_file()
    assert not (out2 / 'AudioSpec').exists()


def test_vggsound_frames_audio_and_fps(tmp_path: Path) -> None:
    root = tmp_path / 'vggsound'
    name = '---g-f_I2yQ_000001'
    write_video(
        root / 'video' / f'{name}.mp4',
        tone_hz=1000.0,
        audio_rate=22050,
        layout='mono')
    assert vggsound.main(['--root', str(root)]) == 0
    check_frames(root / 'Image-01-FPS' / f'{name}.mp4')  # keeps ".mp4"
    check_wav(root / 'audio' / f'{name}.wav', 1000.0)
    before = mtimes(root)
    assert vggsound.main(['--root', str(root)]) == 0
    assert mtimes(root) == before
    # --fps 2 gives twice the frames; --overwrite redoes the existing ones
    assert vggsound.main(['--root',
                          str(root), '--fps', '2', '--overwrite']) == 0
    check_frames(root / 'Image-01-FPS' / f'{name}.mp4', n=2 * SECONDS)
    assert (root / 'audio' / f'{name}.wav').stat().st_mtime_ns != \
        before[f'audio/{name}.wav']


def test_broken_video_is_reported_and_others_converted(tmp_path: Path,
                                                       capsys) -> None:
    root = tmp_path / 'vggsound'
    write_video(root / 'video' / 'good_000000.mp4')
    (root / 'video' / 'bad_000000.mp4').write_bytes(b'\x00' * 1000)
    assert vggsound.main(['--root', str(root)]) == 1
    out = capsys.readouterr().out
    assert 'converted 1' in out and 'failed 1' in out
    assert 'FAILED' in out and 'bad_000000.mp4' in out
    assert (root / 'audio' / 'good_000000.wav').is_file()
    assert not (root / 'Image-01-FPS' / 'bad_000000.mp4').exists()
    assert not (root / 'audio' / 'bad_000000.wav').exists()


def test_video_without_audio_fails_clearly(tmp_path: Path, capsys) -> None:
    root = tmp_path / 'AVE_Dataset'
    write_video(root / 'AVE' / 'silent.mp4', acodec=None)
    assert ave.main(['--root', str(root)]) == 1
    assert 'silent.mp4: has no audio stream' in capsys.readouterr().out


@pytest.mark.parametrize('name,folder,suffix', [
    ('crema_d', 'VideoFlash', '.flv'),
    ('ave', 'AVE', '.mp4'),
    ('vggsound', 'video', '.mp4'),
])
def test_missing_decoder_error(tmp_path: Path, monkeypatch, name: str,
                               folder: str, suffix: str) -> None:
    (tmp_path / folder).mkdir()
    (tmp_path / folder / f'x{suffix}').write_bytes(b'\x00')
    monkeypatch.setitem(sys.modules, 'av', None)  # `import av` fails
    with pytest.raises(SystemExit, match=r'needs PyAV.*pip install "av=='):
        SCRIPTS[name].main(['--root', str(tmp_path)])


@pytest.mark.parametrize('name,folder', [('crema_d', 'VideoFlash'),
                                         ('ave', 'AVE'),
                                         ('vggsound', 'video')])
def test_missing_input_folder_error(tmp_path: Path, name: str,
                                    folder: str) -> None:
    with pytest.raises(SystemExit, match=f'{folder} does not exist'):
        SCRIPTS[name].main(['--root', str(tmp_path)])
    (tmp_path / folder).mkdir()
    with pytest.raises(SystemExit, match='no \\*\\.(flv|mp4) files in'):
        SCRIPTS[name].main(['--root', str(tmp_path)])


def test_bad_arguments_are_refused(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        vggsound.main(['--root', str(tmp_path), '--fps', '0'])
    assert '--fps 0.0 must be > 0' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ave.main(['--root', str(tmp_path), '--jpeg-quality', '101'])
    assert '--jpeg-quality 101 must be in 1..100' in capsys.readouterr().err
