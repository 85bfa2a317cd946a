"""Stop a run at its first non-finite loss, before a NaN checkpoint exists."""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.hooks import Hook

from fdkd_plugin.registry import HOOKS

__all__ = ['NonFiniteLossError', 'NonFiniteLossHook', 'loss_weight_keys']

_ACTIONS = ('raise', 'warn')
# where each prefix of CrossModalDistill's loss dict comes from
_PREFIX_PATHS = {
    '': 'model',
    'student': 'model.architecture',
    'teacher': 'model.teacher',
    'distill': 'model.distiller',
}
# FreqDecoupledDistiller's terms and the argument that weighs each
_FDKD_WEIGHTS = (
    ('loss_low', 'lambda_low'),
    ('loss_high', 'lambda_high'),
    ('loss_raw', 'lambda_low'),
    ('loss_align_', 'align_weight'),
    ('loss_task_', 'task_weight'),
)
# module buffers that must stay finite (others, e.g. -inf attention masks,
# may legitimately hold inf)
_CHECKED_BUFFERS = ('running_mean', 'running_var')


class NonFiniteLossError(FloatingPointError):
    """A loss term or a weight about to be saved is NaN or infinite."""


def _plain(cfg: Any) -> Any:
    """A Config / ConfigDict as nested plain dicts (Config is no dict)."""
    return cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg


def _get(cfg: Any, path: str) -> Tuple[bool, Any]:
    """(found, value) of a dotted ``path`` in nested dicts."""
    node = cfg
    for part in path.split('.'):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _leaf_keys(node: Any, prefix: str) -> List[str]:
    """Dotted paths of every non-dict value under ``node``."""
    if not isinstance(node, dict):
        return [prefix]
    keys = []
    for k, v in node.items():
        keys += _leaf_keys(v, f'{prefix}.{k}')
    return keys


def loss_weight_keys(term: str, cfg: Any) -> List[str]:
    """The config keys that weigh the loss term ``term``.

    ``term`` is a key of the model's loss dict as MMEngine logs it:
    ``loss`` (a plain classifier), ``student.loss`` / ``teacher.loss`` (the
    networks' own heads in a distillation), ``distill.loss_low`` (FDKD's
    ``lambda_low``), ``distill.loss_kl`` (an MMRazor loss in
    ``distill_losses``). Keys are given even where the config leaves the
    default.

    Args:
        term (str): The loss term.
        cfg (dict | Config): The whole config (its ``model`` is read).

    Returns:
        list[str]: Dotted config keys, most specific first; empty when
        nothing in the config relates to the term.
    """
    cfg = _plain(cfg)
    prefix, _, name = term.rpartition('.')
    base = _PREFIX_PATHS.get(prefix)
    if base is None:  # e.g. a bidirectional run's 'a2v.distill.loss_low'
        found, model = _get(cfg, 'model')
        return [
            k for k in _leaf_keys(model, 'model')
            if name in k.split('.') and k.rsplit('.', 1)[-1] in ('loss_weight',
                                                                 'lambda_low',
                                                                 'lambda_high')
        ] if found else []
    if prefix != 'distill':
        # an mmpretrain head's `loss` (CrossEntropyLoss, loss_weight 1)
        return [f'{base}.head.loss.loss_weight']
    keys = []
    if _get(cfg, f'{base}.distill_losses.{name}')[0]:
        keys.append(f'{base}.distill_losses.{name}.loss_weight')
    found, kind = _get(cfg, f'{base}.type')
    if found and 'FreqDecoupled' in str(kind):
        keys += [
            f'{base}.{arg}' for start, arg in _FDKD_WEIGHTS
            if name == start or (
                start.endswith('_') and name.startswith(start))
        ]
    return keys


def _fmt(value: Any) -> str:
    return repr(value) if not isinstance(value, float) else f'{value:g}'


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first NaN or infinite loss term.

    After every training iteration the loss terms the model returned (the
    parsed ``log_vars`` MMEngine passes to ``after_train_iter``; every key
    holding ``'loss'``) are checked. On the first non-finite one the run
    stops with :class:`NonFiniteLossError`, whose message names the
    iteration, the epoch and batch, the term that went non-finite (and the
    value of every term) and the config keys to look at: the learning rate
    (``optim_wrapper.optimizer.lr``, with its current value), gradient
    clipping (``optim_wrapper.clip_grad``), the term's weight
    (:func:`loss_weight_keys`) and whether ``--amp`` is on.

    The hook runs before ``CheckpointHook`` (priority ``VERY_HIGH``), so no
    checkpoint of the diverged weights is written and ``selected.pth``
    keeps pointing at the last finite one. As a second guard, the weights
    about to be saved (parameters and BN running statistics) are checked
    in ``before_save_checkpoint``: weights that became non-finite while the
    loss stayed finite are refused the same way.

    In a distributed run the ranks agree (one all-reduce of a flag per
    iteration), so every rank stops at the same iteration.

    Args:
        action (str): ``'raise'`` stops the run; ``'warn'`` logs one
            warning at the first non-finite loss, counts the others, reports
            the count at the end of training and carries on (checkpoints are
            then saved whatever they hold). Defaults to ``'raise'``.
    """

    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'raise') -> None:
        if action not in _ACTIONS:
            raise ValueError(
                f'NonFiniteLossHook: action={action!r} must be one of '
                f'{_ACTIONS}')
        self.action = action
        self.non_finite_iters = 0
        self.first_message: Optional[str] = None

    # ------------------------------------------------------------------
    @staticmethod
    def _loss_terms(outputs: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        if not isinstance(outputs, dict):
            return {}
        return {k: v for k, v in outputs.items() if 'loss' in k}

    def _config_hints(self, runner, term: Optional[str]) -> List[str]:
        cfg = _plain(runner.cfg)
        hints = []
        optim = cfg.get('optim_wrapper', None) or {}
        lr_keys = [
            k for k in _leaf_keys(optim, 'optim_wrapper') if k.endswith('.lr')
        ]
        try:
            lr_now = {
                k: [float(f'{v:.6g}') for v in vals]
                for k, vals in runner.optim_wrapper.get_lr().items()
            }
        except Exception:  # a wrapper without get_lr: the config says it
            lr_now = None
        for key in lr_keys or ['optim_wrapper.optimizer.lr']:
            value = _get(cfg, key)[1]
            now = f', now {lr_now}' if lr_now else ''
            hints.append(f'{key} = {_fmt(value)}{now}')
        clip_keys = [
            k for k in _leaf_keys(optim, 'optim_wrapper')
            if '.clip_grad.' in k or k.endswith('.clip_grad')
        ]
        if clip_keys:
            hints.append('optim_wrapper.clip_grad = '
                         f'{_fmt(_get(cfg, "optim_wrapper.clip_grad")[1])}')
        else:
            hints.append('optim_wrapper.clip_grad = None (e.g. '
                         'optim_wrapper.clip_grad.max_norm=10)')
        for key in (loss_weight_keys(term, cfg) if term else []):
            found, value = _get(cfg, key)
            hints.append(
                f'{key} = {_fmt(value)}' if found else f'{key} (the default)')
        amp = 'Amp' in str(optim.get('type', ''))
        hints.append('--amp: on (float16 overflows where float32 does not; '
                     'try without it)' if amp else '--amp: off')
        return hints

    def _message(self, runner, batch_idx: int, values: Dict[str, float],
                 bad: Sequence[str]) -> str:
        # the total `loss` is NaN whenever a term is: name the term
        terms = [k for k in bad if k != 'loss'] or list(bad)
        term = terms[0]
        try:
            of = f' of {len(runner.train_dataloader)}'
        except TypeError:
            of = ''
        where = (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
                 f'batch {batch_idx + 1}{of})')
        if not bad:  # only another rank's loss went non-finite
            return (f'non-finite loss at {where} on another rank (see its '
                    'log); this rank stops with it')
        shown = ', '.join(f'{k}={v:g}' for k, v in values.items())
        hints = '; '.join(self._config_hints(runner, term))
        return (f'non-finite loss at {where}: {term} = {values[term]:g} '
                f'(all terms: {shown}). Config keys to look at: {hints}. '
                'No checkpoint of these weights was saved; '
                "NonFiniteLossHook(action='warn') in custom_hooks only warns")

    # ------------------------------------------------------------------
    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[Dict[str, Any]] = None) -> None:
        terms = self._loss_terms(outputs)
        if not terms:
            return
        stacked = torch.stack([
            torch.as_tensor(v).detach().float().reshape(())
            for v in terms.values()
        ])
        local_bad = ~torch.isfinite(stacked)
        flag = local_bad.any().float().reshape(1)
        if is_distributed():
            all_reduce(flag, op='sum')
        if flag.item() == 0:
            return
        values = dict(zip(terms, stacked.tolist()))
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        self.non_finite_iters += 1
        if self.action == 'raise':
            message = self._message(runner, batch_idx, values, bad)
            runner.logger.error(message)
            raise NonFiniteLossError(message)
        if self.first_message is None:
            self.first_message = self._message(runner, batch_idx, values, bad)
            runner.logger.warning(
                self.first_message.replace(
                    "NonFiniteLossHook(action='warn') in custom_hooks only "
                    'warns', 'training goes on (action=warn)'))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.action != 'raise':
            return
        model = runner.model
        model = getattr(model, 'module', model)
        named = list(model.named_parameters()) + [
            (n, b) for n, b in model.named_buffers()
            if n.rsplit('.', 1)[-1] in _CHECKED_BUFFERS
        ]
        for name, tensor in named:
            if tensor.is_floating_point() and not bool(
                    torch.isfinite(tensor).all()):
                meta = checkpoint.get('meta', {})
                message = (
                    f'the weights to be saved at epoch {meta.get("epoch")}, '
                    f'iteration {meta.get("iter")} are not finite (first: '
                    f'{name}); the checkpoint is not saved. Config keys to '
                    'look at: ' + '; '.join(self._config_hints(runner, None)))
                runner.logger.error(message)
                raise NonFiniteLossError(message)

    def after_train(self, runner) -> None:
        if self.action == 'warn' and self.non_finite_iters:
            runner.logger.info(
                f'NonFiniteLossHook: {self.non_finite_iters} training '
                'iteration(s) had a non-finite loss; the first: '
                f'{self.first_message}')
