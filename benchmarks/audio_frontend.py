"""Audio front end speed: our ``LoadAudio`` + ``Spectrogram`` transforms
against librosa's ``load`` + ``stft``, the field's usual front end, with the
settings of the AV-digits and CREMA-D configs, on the same files.

For each setting it checks that both give the same log spectrogram (max
absolute difference printed, at most 1e-4 asserted), then reports clips per
second of each (medians over interleaved repetitions, one process, one
thread as in a DataLoader worker) and where the time goes, stage by stage.
Goal: ours / librosa >= 3. ``Spectrogram(precision='float32')`` is timed
too, with the error of its stated bound (the L2 error of the log
spectrogram over the bins within 80 dB of a clip's peak, over the L2 norm
of the centred float64 one; at most 1e-4). A last column times the
precomputed path of the data sets (``audio_format='npy'``:
``LoadSpectrogram`` reading our spectrograms saved once as ``.npy``,
checked against librosa likewise).

    python benchmarks/audio_frontend.py
    python benchmarks/audio_frontend.py --clips 500 --reps 7
    python benchmarks/audio_frontend.py --profile    # our top functions

AV-digits runs on ``data/avdigits/AudioWAV`` (1 s, 22050 Hz, 16-bit PCM);
CREMA-D settings (3 s at 16 kHz) on 16-bit PCM wavs of 2-3.5 s written to a
temporary folder from the AV-digits clips (or from tones and noise when the
data set is absent), so that some clips are tiled and some cropped. The
transforms run on the CPU (in the DataLoader's workers) whatever the
training device; ``--device cuda`` only names the GPU in the machine line.
"""
import argparse
import cProfile
import glob
import io
import math
import os
import os.path as osp
import pstats
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

import fdkd_plugin  # noqa: F401
from common import interleaved, machine_info
from fdkd_plugin.utils.runs import REPO_ROOT, markdown_table

SETTINGS = {
    'avdigits': 'configs/_base_/datasets/avdigits.py',
    'crema_d': 'configs/_base_/datasets/crema_d.py',
}
GOAL = 3.0
TOLERANCE = 1e-4
BOUND32 = 1e-4  # Spectrogram(precision='float32')'s stated bound


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--settings', nargs='+', default=list(SETTINGS),
                   choices=list(SETTINGS))
    p.add_argument('--clips', type=int, default=200,
                   help='files per setting')
    p.add_argument('--reps', type=int, default=5,
                   help='passes over the files per variant, interleaved')
    p.add_argument('--data-root', default='data/avdigits')
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads (DataLoader workers use 1)')
    p.add_argument('--profile', action='store_true',
                   help='also print the top functions of our front end')
    p.add_argument('--device', default='cpu',
                   help='only named in the machine line: the transforms '
                   'run on the CPU')
    return p.parse_args(argv)


# ------------------------------------------------------------------ files
def audio_settings(config: str) -> Tuple[Dict, Dict]:
    """``LoadAudio`` and ``Spectrogram`` arguments of a data config's test
    pipeline."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    steps = {t['type']: {k: v for k, v in t.items() if k != 'type'}
             for t in cfg.audio_test}
    return steps['fdkd.LoadAudio'], steps['fdkd.Spectrogram']


def source_waves(data_root: str, n: int) -> List[Tuple[np.ndarray, int]]:
    """Up to ``n`` AV-digits waveforms, or synthetic ones without the data."""
    import soundfile
    files = sorted(
        glob.glob(osp.join(REPO_ROOT, data_root, 'AudioWAV', '*.wav')))[:n]
    if files:
        return [soundfile.read(f, dtype='float64') for f in files]
    rng = np.random.default_rng(0)
    waves = []
    for i in range(n):
        t = np.arange(22050) / 22050
        y = 0.3 * np.sin(2 * np.pi * (200 + 40 * i) * t)
        waves.append((y + rng.normal(0, 0.05, t.size), 22050))
    return waves


def write_wavs(folder: str, n: int, sr: int, data_root: str,
               seconds: Tuple[float, float]) -> List[str]:
    """``n`` 16-bit PCM wavs at ``sr`` Hz, lengths uniform in ``seconds``,
    made of consecutive source clips resampled to ``sr``."""
    import soundfile
    from scipy.signal import resample_poly
    rng = np.random.default_rng(1)
    sources = source_waves(data_root, max(n, 8))
    pool = np.concatenate([
        resample_poly(y, sr // math.gcd(sr, s), s // math.gcd(sr, s))
        for y, s in sources
    ])
    pool = 0.9 * pool / np.abs(pool).max()
    paths, pos = [], 0
    for i in range(n):
        length = int(rng.uniform(*seconds) * sr)
        if pos + length > len(pool):
            pos = 0
        path = osp.join(folder, f'clip_{i:05d}.wav')
        soundfile.write(path, pool[pos:pos + length], sr, subtype='PCM_16')
        paths.append(path)
        pos += length
    return paths


def setting_files(name: str, load_kw: Dict, args: argparse.Namespace,
                  tmp: str) -> Tuple[List[str], str]:
    avdigits = sorted(
        glob.glob(osp.join(REPO_ROOT, args.data_root, 'AudioWAV',
                           '*.wav')))[:args.clips]
    if name == 'avdigits' and avdigits:
        return avdigits, f'{len(avdigits)} files of {args.data_root}'
    sr, dur = load_kw['sample_rate'], load_kw['duration']
    folder = osp.join(tmp, name)
    os.makedirs(folder)
    files = write_wavs(folder, args.clips, sr, args.data_root,
                       (dur * 2 / 3, dur * 7 / 6))
    return files, (f'{len(files)} generated 16-bit wavs, {sr} Hz, '
                   f'{dur * 2 / 3:.1f}-{dur * 7 / 6:.1f} s')


# ------------------------------------------------------------- front ends
def ours(load_kw: Dict, spec_kw: Dict, precision: str = 'float64'):
    """Our two transforms, built from the config's arguments."""
    from fdkd_plugin.datasets.transforms import LoadAudio, Spectrogram
    return LoadAudio(**load_kw), Spectrogram(**spec_kw, precision=precision)


def float32_error(files: List[str], load_kw: Dict, spec_kw: Dict) -> float:
    """The worst file's error of ``precision='float32'`` under the bound of
    ``Spectrogram``'s docstring (L2 over the bins within 80 dB of the peak,
    relative to the centred float64 log spectrogram)."""
    from fdkd_plugin.datasets.transforms.audio import stft_magnitude
    load_audio, _ = ours(load_kw, spec_kw)
    stft_kw = {k: spec_kw[k] for k in ('n_fft', 'hop_length', 'win_length',
                                       'window', 'center', 'pad_mode')
               if k in spec_kw}
    eps = spec_kw.get('eps', 1e-7)
    worst = 0.0
    for path in files:
        wav = load_audio(dict(audio_path=path))['audio']
        ref = stft_magnitude(wav, **stft_kw)
        got = stft_magnitude(wav, **stft_kw, precision='float32')
        keep = ref >= ref.max() * 1e-4
        a = np.log(ref[keep] + eps)
        b = np.log(got[keep].astype(np.float64) + eps)
        err = np.linalg.norm(b - a) / np.linalg.norm(a - a.mean())
        worst = max(worst, float(err))
    return worst


def librosa_frontend(load_kw: Dict, spec_kw: Dict):
    """The field's front end with the same parameters: ``librosa.load`` at
    the config's rate (no resampling for files already at that rate), tile
    to the duration, crop, clip to [-1, 1], ``librosa.stft``, then log and
    z-score as the config's ``Spectrogram``."""
    import librosa
    sr = load_kw.get('sample_rate', 22050)
    n = int(round(load_kw.get('duration', 3.0) * sr))
    n_fft = spec_kw.get('n_fft', 512)
    stft_kw = dict(
        n_fft=n_fft,
        hop_length=spec_kw.get('hop_length', 353),
        win_length=spec_kw.get('win_length'),
        window=spec_kw.get('window', 'hann'),
        center=spec_kw.get('center', True),
        pad_mode=spec_kw.get('pad_mode', 'constant'))
    eps = spec_kw.get('eps', 1e-7)
    log = spec_kw.get('log', True)
    zscore = spec_kw.get('normalize') == 'zscore'
    if spec_kw.get('normalize') not in (None, 'zscore'):
        raise NotImplementedError(spec_kw['normalize'])

    def load(path: str) -> np.ndarray:
        y, _ = librosa.load(path, sr=sr, mono=True)
        if len(y) < n:
            y = np.tile(y, math.ceil(n / len(y)))
        return np.clip(y[:n], -1.0, 1.0)

    def stft(y: np.ndarray) -> np.ndarray:
        return np.abs(librosa.stft(y, **stft_kw))

    def post(s: np.ndarray) -> np.ndarray:
        if log:
            s = np.log(s + eps)
        if zscore:
            s = (s - s.mean()) / (s.std() + eps)
        return s

    return load, stft, post


def compare(files: List[str], load_kw: Dict, spec_kw: Dict,
            npy_dir: str) -> Tuple[float, float, List[str]]:
    """Our spectrogram and librosa's of each file, once each; ours is also
    saved as ``.npy`` in ``npy_dir`` (what ``audio_format='npy'`` data sets
    read) and read back with ``LoadSpectrogram``.

    Returns max |ours - librosa|, max |read back - librosa| over all files,
    and the ``.npy`` paths in the order of ``files``.
    """
    from fdkd_plugin.datasets.transforms import LoadSpectrogram
    load_spec = LoadSpectrogram()
    load_audio, spectrogram = ours(load_kw, spec_kw)
    load, stft, post = librosa_frontend(load_kw, spec_kw)
    os.makedirs(npy_dir)
    worst = worst_read = 0.0
    npys = []
    for i, path in enumerate(files):
        mine = spectrogram(load_audio(dict(audio_path=path)))['audio'][0]
        ref = post(stft(load(path)))
        if mine.shape != ref.shape:
            raise AssertionError(f'{path}: ours {mine.shape}, librosa '
                                 f'{ref.shape}')
        npys.append(osp.join(npy_dir, f'{i:05d}.npy'))
        np.save(npys[-1], mine)
        read = load_spec(dict(spec_path=npys[-1]))['audio'][0]
        worst = max(worst, float(np.abs(mine - ref).max()))
        worst_read = max(worst_read, float(np.abs(read - ref).max()))
    return worst, worst_read, npys


def timed_passes(files: List[str], load_kw: Dict, spec_kw: Dict,
                 reps: int, npys: List[str]) -> Dict[str, List[float]]:
    """Seconds per pass over ``files``: each whole front end, and each
    stage of both on its own (on waveforms / spectra made beforehand), and
    ``LoadSpectrogram`` over the precomputed ``npys``."""
    from fdkd_plugin.datasets.transforms import LoadSpectrogram
    load_spec = LoadSpectrogram()
    load_audio, spectrogram = ours(load_kw, spec_kw)
    _, spectrogram32 = ours(load_kw, spec_kw, 'float32')
    load, stft, post = librosa_frontend(load_kw, spec_kw)
    waves = [load_audio(dict(audio_path=p))['audio'] for p in files]
    mags = [stft(w) for w in waves]

    def timer(fn: Callable[[], None]) -> Callable[[], float]:

        def run() -> float:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start

        return run

    def ours_all():
        for p in files:
            spectrogram(load_audio(dict(audio_path=p)))

    def ours32_all():
        for p in files:
            spectrogram32(load_audio(dict(audio_path=p)))

    def librosa_all():
        for p in files:
            post(stft(load(p)))

    runs = {
        'ours': timer(ours_all),
        'ours, float32': timer(ours32_all),
        'librosa': timer(librosa_all),
        'ours: LoadAudio': timer(
            lambda: [load_audio(dict(audio_path=p)) for p in files]),
        'librosa: load + tile + clip': timer(
            lambda: [load(p) for p in files]),
        'ours: Spectrogram': timer(
            lambda: [spectrogram(dict(audio=w)) for w in waves]),
        'ours: Spectrogram, float32': timer(
            lambda: [spectrogram32(dict(audio=w)) for w in waves]),
        'librosa: abs(stft)': timer(lambda: [stft(w) for w in waves]),
        'librosa: log / z-score': timer(lambda: [post(m) for m in mags]),
        'ours, precomputed: LoadSpectrogram (.npy)': timer(
            lambda: [load_spec(dict(spec_path=n)) for n in npys]),
    }
    return interleaved(runs, reps, warmup=1)


def profile_ours(files: List[str], load_kw: Dict, spec_kw: Dict,
                 top: int = 12) -> str:
    load_audio, spectrogram = ours(load_kw, spec_kw)
    prof = cProfile.Profile()
    prof.enable()
    for p in files:
        spectrogram(load_audio(dict(audio_path=p)))
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats('tottime').print_stats(top)
    return out.getvalue()


# ------------------------------------------------------------------- main
def run_setting(name: str, args: argparse.Namespace,
                tmp: str) -> Tuple[Tuple[str, ...], str, str]:
    load_kw, spec_kw = audio_settings(SETTINGS[name])
    files, source = setting_files(name, load_kw, args, tmp)
    diff, diff_pre, npys = compare(files, load_kw, spec_kw,
                                   osp.join(tmp, f'{name}_npy'))
    for what, d in (('ours', diff), ('precomputed', diff_pre)):
        if not d <= TOLERANCE:
            raise AssertionError(f'{name}: {what} and librosa differ by '
                                 f'{d:.2e} > {TOLERANCE}')
    err32 = float32_error(files, load_kw, spec_kw)
    if not err32 <= BOUND32:
        raise AssertionError(f'{name}: float32 error {err32:.2e} > {BOUND32}')
    times = interleaved_medians(
        timed_passes(files, load_kw, spec_kw, args.reps, npys))
    n = len(files)
    ratio = times['librosa'] / times['ours']
    ratio32 = times['librosa'] / times['ours, float32']
    pre = times['ours, precomputed: LoadSpectrogram (.npy)']
    row = (name, source, f'{n / times["ours"]:.0f}',
           f'{n / times["librosa"]:.0f}',
           f'{ratio:.2f} ({"met" if ratio >= GOAL else "NOT met"})',
           f'{diff:.1e}', f'{n / times["ours, float32"]:.0f}',
           f'{ratio32:.2f} ({"met" if ratio32 >= GOAL else "NOT met"})',
           f'{err32:.1e}', f'{n / pre:.0f}', f'{times["librosa"] / pre:.1f}')
    stages = [(stage, f'{t / n * 1e6:.0f}') for stage, t in times.items()]
    detail = (f'{name}: LoadAudio{_kw(load_kw)}, Spectrogram{_kw(spec_kw)}; '
              'microseconds per clip\n\n' +
              markdown_table([('Stage', 'us / clip')] + stages))
    prof = profile_ours(files, load_kw, spec_kw) if args.profile else ''
    return row, detail, prof


def interleaved_medians(times: Dict[str, List[float]]) -> Dict[str, float]:
    return {k: float(np.median(v)) for k, v in times.items()}


def _kw(kwargs: Dict) -> str:
    return '(' + ', '.join(f'{k}={v!r}' for k, v in kwargs.items()) + ')'


def main(argv: Optional[List[str]] = None) -> str:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [('Setting', 'Files', 'ours clips/s', 'librosa clips/s',
             f'ours / librosa (goal >= {GOAL:g})', 'max abs diff',
             'float32 clips/s', 'float32 / librosa',
             f'float32 error (bound {BOUND32:g})',
             'precomputed .npy clips/s', 'precomputed / librosa')]
    details, profiles = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.settings:
            print(f'[audio_frontend] {name} ...', flush=True)
            row, detail, prof = run_setting(name, args, tmp)
            rows.append(row)
            details.append(detail)
            if prof:
                profiles.append(f'{name}, ours, top functions:\n{prof}')
    text = '\n\n'.join([
        '# Audio front end benchmark',
        machine_info(torch.device(args.device)),
        f'Medians of {args.reps} interleaved passes over the files, one '
        f'process, {args.threads} torch thread(s); same log spectrogram '
        f'asserted to {TOLERANCE:g}.',
        markdown_table(rows), *details, *profiles
    ])
    print('\n' + text)
    return text


if __name__ == '__main__':
    main()
