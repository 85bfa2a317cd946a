"""Collect finished runs into the layout of the paper's Table 1.

    python tools/analysis_tools/collect_results.py work_dirs/bench_avdigits \\
        --out-md docs/results.md --out-csv docs/results.csv

Every folder under the given work dirs that holds a run (``done.json``,
``test_metrics.json``, ``run.log``, ``last_checkpoint`` or a dumped config
next to an MMEngine ``<timestamp>/`` log folder) is read. A run made by
``tools/run_table.py`` says what it is in its ``experiment.json`` (method,
control, data set, modalities, seed, config), which is used as written. Any
other run (made by hand) is identified from its **dumped config**, not from
where it lies:

* dataset: the config file name
  (``fdkd_r18-w32_1xb32-12e_avdigits-audio-from-visual.py``, or a name from
  before 0.2 such as ``avdigits_audio_from_visual.py``), else the train data
  set's type, else the folder names;
* student (and teacher) modality: ``model.student_modality`` /
  ``model.teacher_modality`` for distillation, the data preprocessor's
  modality for a unimodal model;
* seed: ``randomness.seed``;
* method: the repository config of that cell (any architecture and
  schedule, :func:`fdkd_plugin.config_names.find`) whose ``model`` equals the
  run's ``model`` (``teacher_ckpt`` compared only as set / not set, since its
  path is per run). A run that matches none is a **variant** (e.g. FDKD with
  ``reduction='sum_per_sample'``, or with no teacher checkpoint): it gets its
  own row in a "Variants" group, named after its folder without the
  direction, with the keys in which it differs from the nearest method. When
  the repository has no config for that dataset and direction, the method is
  taken from the folder name (``{method}_{student}_from_{teacher}``).

Each cell is the test metric of the run's ``selected.pth`` (``done.json``
written by ``fdkd_plugin.utils.runs.train_and_test``; a ``test_metrics.json``
counts only if the dumped config shows it was tested on ``selected.pth``),
mean ± sample std (ddof 1) over seeds. The per-epoch validation logs are never
used to pick a number, so no test-best epoch can enter the table. Runs with no
result are listed as missing. Best in bold, second underlined, among the
distillation methods (as in the paper, neither the unimodal row nor the
variants are ranked; ties share the mark). The footer states how each data
set's checkpoints were selected, read from the runs' configs.
"""
import argparse
import copy
import csv
import glob
import json
import os
import os.path as osp
import re
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.registry import DefaultScope

from fdkd_plugin.config_names import (ConfigName, find, parse,
                                      parse_legacy)
from fdkd_plugin.experiments import (DATASETS, GROUPS, METHOD_LABELS,
                                     MODALITY_ABBR)
from fdkd_plugin.models.algorithms.controls import CONTROLS
from fdkd_plugin.registry import MODELS
from fdkd_plugin.utils.runs import read_code_version, read_identity

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# data set class name -> data set, for configs with another file name
DATASET_TYPES = {
    'AVDigitsDataset': 'avdigits',
    'CremaDDataset': 'crema_d',
    'AVEDataset': 'ave',
    'VGGSoundDataset': 'vggsound',
    'CrisisMMDDataset': 'crisismmd',
    'NYUDepthV2Dataset': 'nyu',
    'NYUDataset': 'nyu',
}
UNRANKED = {'uni'}  # the paper marks best/second among the KD methods only
OTHER_GROUP = 'Other'  # repository configs of methods not in Table 1
VARIANT_GROUP = 'Variants'
# model.control runs (fdkd_plugin/models/algorithms/controls.py): row
# '{method}+{control}', shown next to the methods, never ranked
CONTROL_GROUP = 'Controls'
DEFAULT_METRICS = ['accuracy/top1', 'mIoU']
METRIC_TITLES = {
    'accuracy/top1': 'test top-1 accuracy (%)',
    'mIoU': 'test mIoU (%)'
}
RUN_MARKERS = ('done.json', 'test_metrics.json', 'run.log', 'last_checkpoint')
_TIMESTAMP = re.compile(r'^\d{8}_\d{6}$')
_DIRECTION = re.compile(r'^(?:(?P<prefix>.+)_)?(?P<student>[a-z0-9]+)_from_'
                        r'(?P<teacher>[a-z0-9]+)$')


@dataclass
class Run:
    """One run folder, identified from its dumped config."""
    path: str
    part: str = ''  # direction key of a multi-direction run, else ''
    dataset: Optional[str] = None
    student: Optional[str] = None  # the evaluated model's modality
    teacher: Optional[str] = None  # None for a unimodal run
    seed: Optional[int] = None
    method: Optional[str] = None  # a method key, or None for a variant
    row: Optional[str] = None  # the table row (method key or variant name)
    variant_note: str = ''
    value: Optional[float] = None  # None: missing
    metric: Optional[str] = None
    missing: str = ''  # why there is no value
    selection: str = 'unknown'
    selects_on_test: bool = False
    epochs: Optional[int] = None
    config: Optional[str] = None


# ----------------------------------------------------------------- discovery
def _is_run_dir(path: str, names: Sequence[str]) -> bool:
    if any(m in names for m in RUN_MARKERS):
        return True
    has_config = any(n.endswith('.py') for n in names)
    return has_config and any(
        _TIMESTAMP.match(n) and osp.isdir(osp.join(path, n)) for n in names)


#: a run set aside by ``train_and_test`` because its config changed
_STALE = re.compile(r'\.stale-\d+$')


def find_run_dirs(work_dirs: Sequence[str]) -> List[str]:
    """Run folders under ``work_dirs`` (not descending into a run; not
    the ``<run>.stale-<k>`` folders of runs made with an older config)."""
    found = []
    for top in work_dirs:
        if not osp.isdir(top):
            raise FileNotFoundError(f'work dir {top!r} does not exist')
        for root, dirs, files in os.walk(top):
            if _is_run_dir(root, files + dirs):
                found.append(osp.normpath(root))
                dirs[:] = []
            else:
                dirs[:] = sorted(d for d in dirs if not d.startswith('.')
                                 and not _STALE.search(d))
    return sorted(set(found))


def _dumped_config(run_dir: str) -> Optional[str]:
    """The config MMEngine dumped into the run folder (the newest if the
    folder holds several)."""
    configs = glob.glob(osp.join(run_dir, '*.py'))
    return max(configs, key=osp.getmtime) if configs else None


# ------------------------------------------------------------ identification
def _plain(obj: Any) -> Any:
    """Config values as plain dicts and lists (tuples compare as lists)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _uses_auto(model: Any) -> bool:
    if not isinstance(model, dict):
        return False
    if isinstance(model.get('directions'), dict):
        return any(map(_uses_auto, model['directions'].values()))
    distiller = model.get('distiller')
    return isinstance(distiller, dict) and distiller.get('feature') == 'auto'


_RESOLVED: Dict[str, Any] = {}


def resolve_auto_feature(model: Any) -> Any:
    """``model`` with each distiller's ``feature='auto'`` replaced by the
    recorders, widths and projection it resolves to (the networks are built
    and traced once per distinct config, without a checkpoint), so a run
    that pinned what ``auto`` chooses is the same method as a config that
    leaves it to ``auto``, and a run that recorded another layer is not."""
    if not _uses_auto(model):
        return model
    if isinstance(model.get('directions'), dict):
        return dict(model, directions={
            k: resolve_auto_feature(v)
            for k, v in model['directions'].items()})
    key = json.dumps(model, sort_keys=True, default=str)
    if key not in _RESOLVED:
        cfg = copy.deepcopy(model)
        cfg.update(teacher_ckpt=None, teacher_cache=None, control=None)
        with DefaultScope.overwrite_default_scope('fdkd'):
            built = MODELS.build(cfg)
        # an algorithm that keeps no resolved config compares as written
        _RESOLVED[key] = _plain(
            getattr(built, 'distiller_cfg', model['distiller']))
    return dict(model, distiller=copy.deepcopy(_RESOLVED[key]))


def model_signature(model: Any) -> Any:
    """``model`` as plain data, ``feature='auto'`` resolved
    (:func:`resolve_auto_feature`), ``teacher_ckpt`` reduced to set / not
    set (its path differs per run, whether there is one does not), without
    ``control`` (a control of a method is that method's config plus the
    one key)."""
    sig = resolve_auto_feature(_plain(model))
    if isinstance(sig, dict):
        sig.pop('control', None)
        if 'teacher_ckpt' in sig:
            sig['teacher_ckpt'] = '<checkpoint>' if sig['teacher_ckpt'] \
                else None
    return sig


def _flatten(obj: Any, prefix: str = '') -> Dict[str, Any]:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flatten(v, f'{prefix}.{k}' if prefix else str(k)))
        return out or {prefix: {}}
    if isinstance(obj, list) and any(isinstance(v, dict) for v in obj):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f'{prefix}.{i}'))
        return out or {prefix: []}
    return {prefix: obj}


def _diff(a: Any, b: Any) -> List[Tuple[str, Any, Any]]:
    fa, fb = _flatten(a, 'model'), _flatten(b, 'model')
    return [(k, fa.get(k, '<unset>'), fb.get(k, '<unset>'))
            for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


class ConfigIndex:
    """The repository's configs, by data set and direction (or modality),
    loaded once each."""

    def __init__(self, configs_root: str) -> None:
        self.root = configs_root
        self._cache: Dict[str, Dict[str, Any]] = {}

    def candidates(self, dataset: str, student: str,
                   teacher: Optional[str]) -> Dict[str, Any]:
        """``{method: model signature}`` of the configs for this cell."""
        root = osp.dirname(osp.normpath(self.root))
        if teacher is None:
            methods = ['uni']
        else:
            methods = sorted(
                osp.basename(p)
                for p in glob.glob(osp.join(self.root, 'baselines', '*'))
                if osp.isdir(p)) + ['fdkd']
        paths = {}
        for method in methods:
            config = find(method, dataset, student, teacher, root=root)
            if config is not None:
                paths[method] = osp.join(root, config)
        out = {}
        for method, path in sorted(paths.items()):
            if not osp.isfile(path):
                continue
            if path not in self._cache:
                cfg = Config.fromfile(
                    path, import_custom_modules=False, lazy_import=False)
                self._cache[path] = model_signature(cfg.get('model'))
            out[method] = self._cache[path]
        return out


def _dataset_of(cfg: Config, config_path: Optional[str],
                run_dir: str) -> Optional[str]:
    parsed = _config_name(config_path)
    if parsed is not None:
        return parsed.dataset
    loader = cfg.get('train_dataloader') or {}
    dtype = str((loader.get('dataset') or {}).get('type', ''))
    dtype = dtype.split('.')[-1]
    if dtype in DATASET_TYPES:
        return DATASET_TYPES[dtype]
    return _dataset_of_folders(run_dir)


def _dataset_of_folders(run_dir: str) -> Optional[str]:
    """The data set the innermost folder of ``run_dir`` names (a config
    name, either pattern, or the data set's own name)."""
    for part in reversed(osp.normpath(run_dir).split(os.sep)):
        parsed = _config_name(part)
        if parsed is not None:
            return parsed.dataset
        if part in DATASETS:
            return part
    return None


def _unimodal_modality(cfg: Config,
                       config_path: Optional[str]) -> Optional[str]:
    model = cfg.get('model') or {}
    modality = (model.get('data_preprocessor') or {}).get('modality')
    if modality:
        return modality
    loader = cfg.get('train_dataloader') or {}
    modalities = (loader.get('dataset') or {}).get('modalities')
    if modalities and len(modalities) == 1:
        return modalities[0]
    name = _config_name(config_path)
    return name.student if name is not None else None


def _config_name(path: Optional[str]) -> Optional[ConfigName]:
    """What a (dumped) config's file name says, in the current pattern
    or the one before 0.2; None for a name in neither."""
    if not path:
        return None
    return _new_name(path) or parse_legacy(path)


def _split_of(loader: Any) -> Tuple[Any, ...]:
    ds = (loader or {}).get('dataset') or {}
    return (ds.get('data_root'), ds.get('ann_file'),
            _plain(ds.get('data_prefix')), ds.get('split'))


def selection_rule(cfg: Config) -> Tuple[str, bool]:
    """How ``selected.pth`` was chosen, from the config; and whether that
    choice looked at the test split.

    ``fdkd.SelectedCheckpointHook`` links the best checkpoint on the
    validation split when ``CheckpointHook(save_best=...)`` keeps one (source
    ``'auto'``/``'best'``) and a validation loop runs, else the last one.
    """
    hooks = cfg.get('custom_hooks') or []
    hook = next(
        (h for h in hooks
         if str(h.get('type', '')).split('.')[-1] == 'SelectedCheckpointHook'),
        None)
    if hook is None:
        return 'unknown (no SelectedCheckpointHook)', False
    source = hook.get('source', 'auto')
    ckpt = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    save_best = ckpt.get('save_best')
    has_val = (
        bool(cfg.get('val_dataloader')) and cfg.get('val_cfg') is not None
        and bool(cfg.get('val_evaluator')))
    if source == 'last' or not save_best or not has_val:
        if source == 'best':
            return 'none (source=best but no validation best)', False
        return 'last epoch', False
    metric = save_best if isinstance(save_best, str) else ', '.join(save_best)
    val_split = _split_of(cfg.get('val_dataloader'))
    on_test = val_split == _split_of(cfg.get('test_dataloader'))
    name = val_split[1] or val_split[3] or 'val'
    if on_test:
        return f'best {metric} on {name} = the TEST split', True
    return f'best {metric} on the validation split ({name})', False


def _read_metrics(run: Run, cfg: Optional[Config],
                  metrics: Sequence[str]) -> None:
    done = osp.join(run.path, 'done.json')
    tested = osp.join(run.path, 'test_metrics.json')
    source = None
    if osp.isfile(done):
        source = done
    elif osp.isfile(tested) and cfg is not None and str(
            cfg.get('load_from') or '').endswith('selected.pth'):
        source = tested  # tools/test.py ran on selected.pth
    if source is None:
        run.missing = 'no done.json (unfinished or failed, see run.log)'
        return
    try:
        with open(source) as f:
            result = json.load(f)
    except (OSError, ValueError) as e:
        run.missing = f'unreadable {osp.basename(source)}: {e}'
        return
    for metric in metrics:
        key = f'{run.part}/{metric}' if run.part else metric
        if key in result:
            run.metric, run.value = metric, float(result[key])
            return
    keys = [f'{run.part}/{m}' if run.part else m for m in metrics]
    run.missing = (f'none of {keys} in {osp.basename(source)} '
                   f'(keys: {sorted(result)})')


def _from_names(run: Run) -> None:
    """Fill what the config did not give from the folder names."""
    parts = osp.normpath(run.path).split(os.sep)
    base = parts[-1]
    if run.seed is None:
        for part in reversed(parts):
            m = re.fullmatch(r'seed_?(\d+)', part)
            if m:
                run.seed = int(m.group(1))
                break
    named = _new_name(base)  # a default work dir: work_dirs/<config name>
    if named is not None:
        run.dataset = run.dataset or named.dataset
        if run.student is None:
            run.student, run.teacher = named.student, named.teacher
    if run.dataset is None:
        run.dataset = _dataset_of_folders(run.path)
    m = _DIRECTION.match(base)
    if m and run.student is None:
        run.student, run.teacher = m.group('student'), m.group('teacher')
    elif run.student is None and run.dataset:
        prefix = run.dataset + '_'
        if base.startswith(prefix):
            run.student = base[len(prefix):]


def _new_name(stem: str) -> Optional[ConfigName]:
    try:
        return parse(stem)
    except ValueError:
        return None


def _name_without_direction(run: Run) -> str:
    base = osp.basename(osp.normpath(run.path))
    named = _new_name(base)
    if named is not None:
        return '-'.join(filter(None, (named.method, named.variant)))
    if run.teacher is not None:
        suffix = f'_{run.student}_from_{run.teacher}'
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[:-len(suffix)]
        if run.dataset and base.startswith(run.dataset + '_'):
            base = base[len(run.dataset) + 1:]
    return base


def _is_unimodal(model: Any) -> bool:
    """A plain model, not a distillation algorithm."""
    return not any(
        k in model for k in ('student_modality', 'teacher', 'architecture',
                             'distiller', 'directions'))


def read_runs(run_dir: str,
              index: ConfigIndex,
              metrics: Sequence[str] = DEFAULT_METRICS) -> List[Run]:
    """Identify one run folder and read its result: one :class:`Run`, or
    one per direction of a multi-direction model (``model.directions``,
    metrics ``{direction}/{metric}``)."""
    config_path = _dumped_config(run_dir)
    cfg, error = None, ''
    if config_path:
        try:
            cfg = Config.fromfile(
                config_path, import_custom_modules=False, lazy_import=False)
        except Exception as e:  # a half-written dump: fall back to names
            error = f'unreadable config {config_path}: {e}'
    model = (cfg.get('model') or {}) if cfg is not None else {}
    # a run of tools/run_table.py says what it is (experiment.json); a
    # run made by hand is identified from its config
    identity = read_identity(run_dir)
    directions = model.get('directions')
    parts = list(directions) if isinstance(directions, dict) else ['']
    runs = []
    for part in parts:
        run = Run(path=run_dir, part=part, missing=error)
        if cfg is not None:
            run.config = config_path
            run.dataset = _dataset_of(cfg, config_path, run_dir)
            sub = directions[part] if part else model
            if sub.get('student_modality'):
                run.student = sub.get('student_modality')
                run.teacher = sub.get('teacher_modality')
            elif _is_unimodal(sub):
                run.student = _unimodal_modality(cfg, config_path)
            seed = (cfg.get('randomness') or {}).get('seed')
            run.seed = int(seed) if seed is not None else None
            run.epochs = (cfg.get('train_cfg') or {}).get('max_epochs')
            run.selection, run.selects_on_test = selection_rule(cfg)
        _from_names(run)
        if part:  # never merged into a method's row
            name = osp.basename(osp.normpath(run_dir))
            run.row = name if name not in METHOD_LABELS else \
                f'{name} (modified)'
            run.variant_note = (f'`{model.get("type")}` trains '
                                f'{", ".join(parts)} in one run')
        elif identity is not None:  # what the runner that made it says
            run.dataset, run.student, run.teacher, run.seed = (
                identity['dataset'], identity['student'],
                identity['teacher'], identity['seed'])
            run.method = identity['method']
            run.row = run.method if identity['control'] is None else \
                f'{run.method}+{identity["control"]}'
        else:
            _identify_method(run, cfg, index)
            control = model.get('control')
            if control and run.method:
                run.row = f'{run.method}+{control}'
        _read_metrics(run, cfg, metrics)
        runs.append(run)
    return runs


def _identify_method(run: Run, cfg: Optional[Config],
                     index: ConfigIndex) -> None:
    name = _name_without_direction(run)
    if cfg is not None:
        unimodal = _is_unimodal(cfg.get('model') or {})
    else:
        unimodal = run.teacher is None and bool(
            run.dataset) and name == f'{run.dataset}_{run.student}'
    if unimodal:
        dir_method = 'uni'
    else:
        dir_method = name
    candidates = {}
    if run.dataset and run.student:
        candidates = index.candidates(run.dataset, run.student, run.teacher)
    if cfg is None or not candidates:
        # nothing to compare with: trust the folder name
        if dir_method in METHOD_LABELS or dir_method in candidates:
            run.method = run.row = dir_method
        else:
            run.row = name
            run.variant_note = 'no repository config to compare with'
        return
    sig = model_signature(cfg.get('model'))
    matches = [m for m, s in candidates.items() if s == sig]
    if matches:
        run.method = dir_method if dir_method in matches else sorted(
            matches, key=_method_order)[0]
        run.row = run.method
        return
    # a variant: name it after its folder, describe the nearest method
    diffs = {m: _diff(sig, s) for m, s in candidates.items()}
    nearest = min(diffs, key=lambda m: (len(diffs[m]), _method_order(m)))
    label = METHOD_LABELS.get(nearest, nearest)
    shown = '; '.join(f'`{k}={_short(a)}` ({label}: {_short(b)})'
                      for k, a, b in diffs[nearest][:3])
    more = len(diffs[nearest]) - 3
    run.row = name if name not in METHOD_LABELS else f'{name} (modified)'
    run.variant_note = f'{label} with {shown}' + (f' and {more} more keys'
                                                  if more > 0 else '')


def control_label(row: str) -> str:
    """'fdkd+untrained_teacher' -> 'Ours (FDKD), untrained teacher'."""
    method, control = row.split('+', 1)
    return (f'{METHOD_LABELS.get(method, method)}, '
            f'{CONTROLS.get(control, control)}')


def _control_order(row: str) -> Tuple[int, int]:
    method, control = row.split('+', 1)
    order = list(CONTROLS)
    return (_method_order(method),
            order.index(control) if control in order else len(order))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + '...'


def _method_order(method: str) -> int:
    keys = [key for _, rows in GROUPS for key, _ in rows]
    return keys.index(method) if method in keys else len(keys)


def collect(work_dirs: Sequence[str],
            configs_root: str = osp.join(REPO_ROOT, 'configs'),
            metrics: Sequence[str] = DEFAULT_METRICS) -> List[Run]:
    """Every run under ``work_dirs``, identified and read."""
    index = ConfigIndex(configs_root)
    return [
        run for d in find_run_dirs(work_dirs)
        for run in read_runs(d, index, metrics)
    ]


# --------------------------------------------------------------------- table
@dataclass
class Cell:
    runs: List[Run] = field(default_factory=list)
    values: List[float] = field(default_factory=list)
    mean: Optional[float] = None
    std: Optional[float] = None
    mark: str = ''  # 'best', 'second' or ''


@dataclass
class Table:
    columns: List[Tuple[str, str]]  # (dataset, modality)
    rows: List[Tuple[str, str, str]]  # (category, row key, label)
    cells: Dict[Tuple[str, Tuple[str, str]], Cell]
    seeds: List[Any]
    n_max: int
    digits: int
    notes: List[str]


def _ordered(items, order):
    return sorted(
        items, key=lambda x: (order.index(x) if x in order else len(order), x))


def build_table(runs: Sequence[Run], digits: int = 2) -> Table:
    """Group runs into rows and columns, average seeds, mark best/second."""
    notes: List[str] = []
    duplicates: List[Tuple[Run, Run]] = []
    kept: List[Run] = []
    seen: Dict[Tuple[Any, ...], Run] = {}
    for run in sorted(runs, key=lambda r: r.path):
        if run.dataset is None or run.student is None or run.row is None:
            notes.append('Unidentified run (no data set or modality in its '
                         f'config or folder names, not in the table): '
                         f'`{run.path}`' +
                         (f', {run.missing}' if run.missing else '') + '.')
            continue
        key = (run.row, run.dataset, run.student, run.seed)
        if run.seed is not None and run.value is not None and key in seen:
            duplicates.append((seen[key], run))
            continue
        if run.value is not None:
            seen[key] = run
        kept.append(run)

    datasets = _ordered({r.dataset for r in kept}, list(DATASETS))
    columns = []
    for ds in datasets:
        order = list(DATASETS.get(ds, ('', ()))[1])
        mods = _ordered({r.student for r in kept if r.dataset == ds}, order)
        columns += [(ds, m) for m in mods]

    cells: Dict[Tuple[str, Tuple[str, str]], Cell] = {}
    for run in kept:
        cell = cells.setdefault((run.row, (run.dataset, run.student)), Cell())
        cell.runs.append(run)
        if run.value is not None:
            cell.values.append(run.value)
    for cell in cells.values():
        if cell.values:
            cell.mean = statistics.mean(cell.values)
            if len(cell.values) > 1:
                cell.std = statistics.stdev(cell.values)

    present = {r.row for r in kept}
    rows: List[Tuple[str, str, str]] = []
    for category, members in GROUPS:
        rows += [(category, k, label) for k, label in members if k in present]
    known = {k for _, members in GROUPS for k, _ in members}
    variants = {r.row for r in kept if r.method is None}
    controls = {r.row for r in kept if r.method and '+' in r.row}
    rows += [(CONTROL_GROUP, k, control_label(k))
             for k in sorted(controls, key=_control_order)]
    others = sorted(present - known - variants - controls)
    rows += [(OTHER_GROUP, k, k) for k in others]
    rows += [(VARIANT_GROUP, k, k) for k in sorted(variants)]

    ranked = [
        k for cat, k, _ in rows
        if cat not in (VARIANT_GROUP, CONTROL_GROUP) and k not in UNRANKED
    ]
    for col in columns:
        scores = {
            k: round(cells[(k, col)].mean, digits)
            for k in ranked
            if (k, col) in cells and cells[(k, col)].mean is not None
        }
        levels = sorted(set(scores.values()), reverse=True)
        for k, v in scores.items():
            if v == levels[0]:
                cells[(k, col)].mark = 'best'
            elif len(levels) > 1 and v == levels[1]:
                cells[(k, col)].mark = 'second'

    seeds = sorted({r.seed
                    for r in kept if r.value is not None},
                   key=lambda s: (s is None, s or 0))
    n_max = max((len(c.values) for c in cells.values()), default=0)
    table = Table(columns, rows, cells, seeds, n_max, digits, notes)
    for first, dup in duplicates:
        notes.append(f'Duplicate seed {dup.seed} for '
                     f'{_row_name(table, dup.row)} '
                     f'{_col_title((dup.dataset, dup.student))}: kept '
                     f'`{first.path}`, ignored `{dup.path}`.')
    table.notes = _footer(table, kept, present) + notes
    return table


def _col_title(col: Tuple[str, str]) -> str:
    ds, mod = col
    return f'{DATASETS.get(ds, (ds, ))[0]} {MODALITY_ABBR.get(mod, mod)}'


def _row_name(table: Table, key: str) -> str:
    return {k: label for _, k, label in table.rows}.get(key, key)


def format_cell(cell: Optional[Cell], digits: int, n_max: int) -> str:
    """``mean ± std`` (``mean`` for one seed), ``(n=k)`` when fewer seeds
    than the fullest cell, bold / underlined for best / second."""
    if cell is None or cell.mean is None:
        return '–'
    text = f'{cell.mean:.{digits}f}'
    if cell.std is not None:
        text += f' ± {cell.std:.{digits}f}'
    if cell.mark == 'best':
        text = f'**{text}**'
    elif cell.mark == 'second':
        text = f'<u>{text}</u>'
    if len(cell.values) != n_max:
        text += f' (n={len(cell.values)})'
    return text


def _footer(table: Table, runs: Sequence[Run], present: set) -> List[str]:
    notes = []
    # checkpoint selection and schedule, per data set, from the configs
    for ds in _ordered({c[0] for c in table.columns}, list(DATASETS)):
        rules: Dict[Tuple[str, Any], List[Run]] = {}
        for r in runs:
            if r.dataset == ds and r.config:
                rules.setdefault((r.selection, r.epochs), []).append(r)
        title = DATASETS.get(ds, (ds, ))[0]
        for (rule, epochs), members in sorted(
                rules.items(), key=lambda x: -len(x[1])):
            which = 'all runs' if len(rules) == 1 else \
                f'{len(members)} runs'
            notes.append(f'Checkpoints ({title}, {which}): {rule}, '
                         f'{epochs} epochs.')
    on_test = [r.path for r in runs if r.selects_on_test]
    if on_test:
        notes.append('WARNING: these runs selected their checkpoint on the '
                     'test split: ' + ', '.join(f'`{p}`' for p in on_test))
    notes.append('Best in **bold**, second <u>underlined</u>, among the '
                 'distillation methods (Uni, controls and variants not '
                 'ranked).')
    if any(c == CONTROL_GROUP for c, _, _ in table.rows):
        notes.append('Controls (`model.control`): "untrained teacher" keeps '
                     'the teacher at its random initialization; "no teacher '
                     'terms" drops every loss term that reads the teacher. '
                     'A gain over Uni that a control keeps does not come '
                     'from the teacher.')
    # variants, each described once
    described = {}
    for r in runs:
        if r.method is None and r.row not in described:
            described[r.row] = r.variant_note
    for row, note in sorted(described.items()):
        notes.append(f'Variant `{row}`: {note}.')
    # missing: unfinished runs, and seeds a cell lacks
    for r in sorted(runs, key=lambda r: r.path):
        if r.value is None:
            notes.append(f'Missing: {_row_name(table, r.row)} '
                         f'{_col_title((r.dataset, r.student))} seed '
                         f'{r.seed}: {r.missing} (`{r.path}`).')
    variant_rows = {k for c, k, _ in table.rows if c == VARIANT_GROUP}
    seeds_of = {}  # data set -> the seeds of its main runs
    for r in runs:
        if r.row not in variant_rows and r.seed is not None:
            seeds_of.setdefault(r.dataset, set()).add(r.seed)
    for (row, col), cell in sorted(table.cells.items()):
        if row in variant_rows:
            continue
        have = {r.seed for r in cell.runs}
        lacking = sorted(seeds_of.get(col[0], set()) - have)
        if lacking:
            notes.append(f'Missing: {_row_name(table, row)} {_col_title(col)}'
                         f' has no run for seed(s) '
                         f'{", ".join(map(str, lacking))}.')
    for _, key, label in table.rows:
        if key in variant_rows:
            continue
        absent = [
            _col_title(c) for c in table.columns if (key, c) not in table.cells
        ]
        if absent:
            notes.append(f'Missing: {label} has no runs for '
                         f'{", ".join(absent)}.')
    not_run = [
        label for _, members in GROUPS for k, label in members
        if k not in present
    ]
    if not_run:
        notes.append('Not run: ' + ', '.join(not_run) + '.')
    notes += _code_note(runs)
    return notes


def _code_note(runs: Sequence[Run]) -> List[str]:
    """A warning when the runs were made by more than one commit of the
    code (recorded in each run's ``config_fingerprint.json``): the same
    seed and config can give other numbers under other code."""
    counts: Dict[str, int] = {}
    for r in runs:
        version = read_code_version(r.path)
        name = 'not recorded' if version is None else \
            version[:12] + ('+' if version.endswith('+') else '')
        counts[name] = counts.get(name, 0) + 1
    if len(counts) < 2:
        return []
    shown = ', '.join(f'{n} by {v}' for v, n in sorted(
        counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return [f'WARNING: these runs come from {len(counts)} versions of the '
            f'code ({shown}); a seed and config can give other numbers '
            'under other code.']


def _runs_of(table: Table) -> List[Run]:
    return [r for cell in table.cells.values() for r in cell.runs]


def to_markdown(table: Table) -> str:
    """The table (Markdown, readable as plain text) and its footer."""
    metrics = sorted({r.metric for r in _runs_of(table) if r.metric})
    what = ', '.join(METRIC_TITLES.get(m, m) + f' (`{m}`)' for m in metrics)
    seeds = [s for s in table.seeds if s is not None]
    caption = (f'{what or "test metric"} of each run\'s `selected.pth`, '
               f'mean ± std over seeds ({", ".join(map(str, seeds)) or "-"};'
               f' up to {table.n_max} per cell, `(n=k)` marks fewer).')
    header = ['Category', 'Method'] + [_col_title(c) for c in table.columns]
    body = [header]
    last = None
    for category, key, label in table.rows:
        body.append([category if category != last else '', label] + [
            format_cell(
                table.cells.get((key, col)), table.digits, table.n_max)
            for col in table.columns
        ])
        last = category
    widths = [max(len(r[i]) for r in body) for i in range(len(header))]

    def line(row):
        return '| ' + ' | '.join(c.ljust(w)
                                 for c, w in zip(row, widths)) + ' |'

    lines = [
        caption[0].upper() + caption[1:], '',
        line(body[0]), '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    ]
    lines += [line(r) for r in body[1:]]
    lines += [''] + [f'- {n}' for n in table.notes]
    return '\n'.join(lines) + '\n'


def csv_rows(table: Table) -> List[List[str]]:
    """Header ``category, method, key`` then ``{dataset}_{modality}_mean``,
    ``_std``, ``_n``, ``_mark`` per column; one row per table row."""
    header = ['category', 'method', 'key']
    for ds, mod in table.columns:
        header += [f'{ds}_{mod}_{x}' for x in ('mean', 'std', 'n', 'mark')]
    out = [header]
    for category, key, label in table.rows:
        row = [category, label, key]
        for col in table.columns:
            cell = table.cells.get((key, col))
            if cell is None or cell.mean is None:
                row += ['', '', str(len(cell.values)) if cell else '0', '']
                continue
            row += [
                f'{cell.mean:.4f}',
                '' if cell.std is None else f'{cell.std:.4f}',
                str(len(cell.values)), cell.mark
            ]
        out.append(row)
    return out


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 4)[-1])
    p.add_argument('work_dirs', nargs='+', help='folders searched for runs')
    p.add_argument('--out-md', help='write the Markdown table here')
    p.add_argument('--out-csv', help='write the table as CSV here')
    p.add_argument(
        '--metric',
        action='append',
        help='result key (repeatable, first present wins); default '
        f'{DEFAULT_METRICS}')
    p.add_argument('--digits', type=int, default=2, help='decimals shown')
    p.add_argument(
        '--configs-root',
        default=osp.join(REPO_ROOT, 'configs'),
        help='the configs runs are matched against')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Table:
    args = parse_args(argv)
    metrics = args.metric or DEFAULT_METRICS
    runs = collect(args.work_dirs, args.configs_root, metrics)
    if not runs:
        sys.exit(f'no runs found under {args.work_dirs}')
    table = build_table(runs, args.digits)
    text = to_markdown(table)
    print(text, end='')
    if args.out_md:
        os.makedirs(osp.dirname(osp.abspath(args.out_md)), exist_ok=True)
        with open(args.out_md, 'w') as f:
            f.write(text)
    if args.out_csv:
        os.makedirs(osp.dirname(osp.abspath(args.out_csv)), exist_ok=True)
        with open(args.out_csv, 'w', newline='') as f:
            csv.writer(f).writerows(csv_rows(table))
    return table


if __name__ == '__main__':
    main()
