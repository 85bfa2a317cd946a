"""A text classifier around a ``transformers`` encoder (BERT by default)."""
import copy
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel
from torch import nn

from fdkd_plugin.registry import MODELS

__all__ = ['TextClassifier', 'POOLS']

#: How the sequence output becomes one feature per text.
POOLS: Tuple[str, ...] = ('cls', 'pooler', 'mean')


@MODELS.register_module()
class TextClassifier(BaseModel):
    r"""Classify texts with a ``transformers`` encoder and an MMPretrain head.

    The input is what ``fdkd.TokenizeText`` packs, stacked over the batch:
    an integer tensor ``(N, 2, L)`` = ``[input_ids; attention_mask]``. Then

    .. code-block:: text

        hidden = backbone(input_ids, attention_mask)   # (N, L, D)
        feat   = neck(pool(hidden))                    # (N, D)
        logits = head((feat, ))                        # (N, num_classes)

    ``pool`` (``D`` = the encoder's ``hidden_size``, 768 for BERT-base):

    - ``'cls'`` (default): the last hidden state of the first token,
      ``[CLS]``. This is the feature a fine-tuned BERT classifier is built
      on, before any squashing: the FDKD feature losses standardize and
      split it, and the paper takes features before the activation (A.3),
      whereas the pooler's ``tanh`` saturates at +-1. The encoder's pooler is
      removed (it would hold parameters without gradient, which DDP rejects).
    - ``'pooler'``: the encoder's ``pooler_output`` = ``tanh(W h_[CLS] +
      b)``, as ``BertForSequenceClassification``.
    - ``'mean'``: the mean of the hidden states over the tokens whose mask is
      1 (how sentence-transformers encoders are trained); the pooler is
      removed.

    ``neck`` is an ``nn.Identity``: its output is the pooled feature, so an
    MMRazor recorder ``dict(type='mmrazor.ModuleOutputs', source='neck')``
    records it for distillation. The contract is MMPretrain's
    ``ImageClassifier``: ``forward(inputs, data_samples, mode)`` with
    ``'tensor'`` (logits), ``'loss'`` (the head's losses) and ``'predict'``
    (``DataSample`` s with ``pred_score`` / ``pred_label``), so the class is
    a teacher or a student of ``fdkd.CrossModalDistill`` as is.

    The encoder's weights come from ``pretrained`` (``AutoModel.
    from_pretrained``) or are drawn from ``config`` (``AutoModel.
    from_config``); :meth:`init_weights` (called by the runner) initializes
    the head only and never re-draws the encoder.

    Args:
        head (dict): An MMPretrain classification head, e.g.
            ``dict(type='mmpretrain.LinearClsHead', num_classes=5,
            in_channels=768, loss=dict(type='mmpretrain.CrossEntropyLoss'))``;
            ``in_channels`` must equal the encoder's ``hidden_size``.
        pretrained (str, optional): Hub name (``'bert-base-uncased'``) or
            local folder of a ``transformers`` encoder. Offline
            (``HF_HUB_OFFLINE=1``) a hub name must already be in the cache.
        config (dict, optional): Arguments of a ``transformers`` config for a
            randomly initialized encoder, e.g. ``dict(vocab_size=100,
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64)``; ``model_type`` (default ``'bert'``)
            picks the config class. Exactly one of ``pretrained`` and
            ``config`` is given.
        pool (str): ``'cls'``, ``'pooler'`` or ``'mean'``, see above.
            Defaults to ``'cls'``.
        model_kwargs (dict, optional): Extra arguments of
            ``AutoModel.from_pretrained`` (``revision``,
            ``local_files_only``, ``attn_implementation`` ...).
        data_preprocessor (dict, optional): Defaults to None (MMEngine's
            ``BaseDataPreprocessor``); in the configs
            ``dict(type='fdkd.MultiModalDataPreprocessor', modality='text')``.
        init_cfg (dict | list[dict], optional): MMEngine init config applied
            to the whole classifier after the head's own init, e.g.
            ``dict(type='Pretrained', checkpoint='text.pth')`` to load a
            checkpoint of this class. Defaults to None.
    """

    def __init__(self,
                 head: dict,
                 pretrained: Optional[str] = None,
                 config: Optional[Dict[str, Any]] = None,
                 pool: str = 'cls',
                 model_kwargs: Optional[Dict[str, Any]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if (pretrained is None) == (config is None):
            raise ValueError(
                f'give exactly one of pretrained={pretrained!r} (hub name or '
                f'folder) and config={config!r} (random init)')
        if pretrained is not None and (not isinstance(pretrained, str)
                                       or not pretrained):
            raise ValueError(f'pretrained={pretrained!r} must be a non-empty '
                             'str')
        if pool not in POOLS:
            raise ValueError(f'pool={pool!r} must be one of {POOLS}')
        if not isinstance(head, (dict, nn.Module)):
            raise ValueError(f'head={head!r} must be a dict or a module')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.pool = pool
        self.pretrained = pretrained
        self.backbone = self._build_encoder(pretrained, config,
                                            dict(model_kwargs or {}))
        if pool != 'pooler' and getattr(self.backbone, 'pooler',
                                        None) is not None:
            self.backbone.pooler = None
        hidden = int(self.backbone.config.hidden_size)
        if isinstance(head, dict):
            in_channels = head.get('in_channels')
            if in_channels is not None and in_channels != hidden:
                raise ValueError(
                    f'head in_channels={in_channels} differs from the '
                    f"encoder's hidden_size={hidden}; set "
                    f'head.in_channels={hidden}')
            head = MODELS.build(copy.deepcopy(head))
        self.neck = nn.Identity()
        self.head = head
        self.feat_channels = hidden

    @staticmethod
    def _build_encoder(pretrained: Optional[str],
                       config: Optional[Dict[str, Any]],
                       model_kwargs: Dict[str, Any]) -> nn.Module:
        from transformers import AutoConfig, AutoModel
        if config is not None:
            config = dict(config)
            model_type = config.pop('model_type', 'bert')
            return AutoModel.from_config(
                AutoConfig.for_model(model_type, **config))
        try:
            return AutoModel.from_pretrained(pretrained, **model_kwargs)
        except Exception as err:  # noqa: BLE001  transformers raises several
            raise OSError(
                f'cannot load the text encoder {pretrained!r} '
                f'({type(err).__name__}: {err}); offline (HF_HUB_OFFLINE=1) '
                'it must be a local folder or already in the Hugging Face '
                'cache, see docs/crisismmd.md') from err

    # ------------------------------------------------------------------
    @staticmethod
    def split_inputs(inputs: torch.Tensor
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(N, 2, L)`` packed tokens -> ``input_ids, attention_mask``.

        Args:
            inputs (Tensor): Integer ``(N, 2, L)``.

        Returns:
            tuple[Tensor, Tensor]: ``(N, L)`` ids and ``(N, L)`` mask.
        """
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3 \
                or inputs.shape[1] != 2:
            shape = tuple(inputs.shape) if isinstance(
                inputs, torch.Tensor) else type(inputs).__name__
            raise ValueError(
                f'TextClassifier expects (N, 2, L) = [input_ids; '
                f'attention_mask] per text (fdkd.TokenizeText), got {shape}')
        if inputs.is_floating_point():
            raise ValueError(f'token ids must be integers, got {inputs.dtype}')
        inputs = inputs.long()
        return inputs[:, 0], inputs[:, 1]

    def pooled(self, inputs: torch.Tensor) -> torch.Tensor:
        """The pooled feature of each text (before ``neck``).

        Args:
            inputs (Tensor): ``(N, 2, L)`` packed tokens.

        Returns:
            Tensor: ``(N, D)``.
        """
        input_ids, mask = self.split_inputs(inputs)
        out = self.backbone(input_ids=input_ids, attention_mask=mask)
        if self.pool == 'pooler':
            return out.pooler_output  # (N, D)
        hidden = out.last_hidden_state  # (N, L, D)
        if self.pool == 'cls':
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)  # (N, L, 1)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def extract_feat(self, inputs: torch.Tensor) -> Tuple[torch.Tensor]:
        """The head's input, as MMPretrain's classifiers return it.

        Args:
            inputs (Tensor): ``(N, 2, L)`` packed tokens.

        Returns:
            tuple[Tensor]: ``((N, D), )``, the output of ``neck``.
        """
        return (self.neck(self.pooled(inputs)), )

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor') -> Any:
        """MMPretrain's entry point.

        Args:
            inputs (Tensor): ``(N, 2, L)`` packed tokens.
            data_samples (list[DataSample], optional): Needed for ``'loss'``.
            mode (str): ``'tensor'`` -> logits ``(N, num_classes)``;
                ``'loss'`` -> dict of losses; ``'predict'`` -> list of
                ``DataSample``.
        """
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        if mode == 'loss':
            return self.head.loss(self.extract_feat(inputs), data_samples)
        if mode == 'predict':
            return self.head.predict(self.extract_feat(inputs), data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def init_weights(self) -> None:
        """Initialize the head, then apply ``init_cfg``; never re-draw the
        encoder.

        MMEngine's recursive ``init_weights`` would call the encoder's own
        ``init_weights`` (a ``transformers`` method that re-draws weights
        not flagged as loaded); the encoder is complete once built.
        """
        if hasattr(self.head, 'init_weights'):
            self.head.init_weights()
        if self.init_cfg:
            from mmengine.model import initialize
            initialize(self, copy.deepcopy(self.init_cfg))
        self._is_init = True
