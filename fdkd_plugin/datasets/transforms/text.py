"""Text transforms: tweet normalization and tokenization for a text model.

:class:`TokenizeText` turns a raw string of the data info into one int64
array ``(2, L)`` = ``[input_ids; attention_mask]``, padded to ``L =
max_length``, so that :class:`PackMultiModalInputs` packs it like any other
modality and the batch stacks to ``(N, 2, L)`` (what
:class:`fdkd_plugin.models.TextClassifier` reads).
"""
import functools
import html
import re
from typing import Any, Dict, Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from fdkd_plugin.registry import TRANSFORMS
from .declare import declares

__all__ = ['TokenizeText', 'normalize_tweet', 'load_tokenizer']

# a mention is '@' + word characters not preceded by a word character (so
# the '@' of an e-mail address is left alone)
_MENTION = re.compile(r'(?<!\w)@\w+')
_URL = re.compile(r'(?:https?://|www\.)\S+', flags=re.IGNORECASE)
_SPACE = re.compile(r'\s+')


def normalize_tweet(text: str) -> str:
    """Normalize a tweet for a BERT tokenizer.

    Steps, in order:

    1. HTML entities are unescaped (tweets in CrisisMMD hold ``&amp;``,
       ``&gt;`` ...);
    2. every URL (``http://...``, ``https://...``, ``www....``) becomes
       ``'http'``;
    3. every user mention ``@name`` becomes ``'@user'``;
    4. runs of white space become one space; ends are stripped.

    Example: ``'RT @FEMA: help &amp; info https://t.co/x1'`` ->
    ``'RT @user: help & info http'``.

    Args:
        text (str): The raw tweet.

    Returns:
        str: The normalized text.
    """
    text = html.unescape(text)
    text = _URL.sub('http', text)
    text = _MENTION.sub('@user', text)
    return _SPACE.sub(' ', text).strip()


@functools.lru_cache(maxsize=8)
def _cached_tokenizer(name: str, kwargs: Tuple[Tuple[str, Any], ...]) -> Any:
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(name, **dict(kwargs))


def load_tokenizer(name: str, **kwargs: Any) -> Any:
    """A ``transformers`` tokenizer from a hub name or a local folder, loaded
    once per process (later calls with the same arguments share it).

    Args:
        name (str): Hub name (``'bert-base-uncased'``) or a folder holding
            ``tokenizer.json`` and / or ``vocab.txt`` (+
            ``tokenizer_config.json``).
        **kwargs: Passed to ``AutoTokenizer.from_pretrained`` (hashable
            values only).

    Returns:
        transformers.PreTrainedTokenizerBase: The tokenizer.

    Raises:
        OSError: It cannot be loaded (the message names it and says how to
            use a local copy offline).
    """
    try:
        return _cached_tokenizer(name, tuple(sorted(kwargs.items())))
    except Exception as err:  # noqa: BLE001  transformers raises several
        raise OSError(
            f'cannot load the tokenizer {name!r} ({type(err).__name__}: '
            f'{err}); offline (HF_HUB_OFFLINE=1) it must be a local folder '
            'or already in the Hugging Face cache, see docs/crisismmd.md'
        ) from err


@TRANSFORMS.register_module()
@declares(writes=lambda args: (args.get('out_key', 'text'), ))
class TokenizeText(BaseTransform):
    """Normalize and tokenize a text into ``[input_ids; attention_mask]``.

    For ``text = results[key]`` (a str):

    1. ``text = normalize_tweet(text)`` when ``normalize`` (mentions ->
       ``'@user'``, URLs -> ``'http'``, see :func:`normalize_tweet`);
    2. the tokenizer adds its special tokens (``[CLS] ... [SEP]`` for BERT),
       truncates to ``max_length`` tokens and pads with its pad id (0 for
       BERT) to exactly ``max_length``;
    3. ``results[out_key]`` = int64 array ``(2, max_length)``: row 0 the
       token ids, row 1 the attention mask (1 = token, 0 = padding).

    The tokenizer is loaded on first use (:func:`load_tokenizer`), once per
    process, so building the pipeline costs nothing and data-loader workers
    load their own.

    Args:
        tokenizer (str): Hub name or local folder of a ``transformers``
            tokenizer; must match the text model (``TextClassifier``'s
            ``pretrained``).
        max_length (int): Tokens per text, special tokens included; >= 2.
            Defaults to 128.
        normalize (bool): Apply :func:`normalize_tweet` first. Defaults to
            True.
        key (str): The results key of the raw text. Defaults to
            ``'tweet_text'``.
        out_key (str): The results key written, i.e. the modality name that
            ``PackMultiModalInputs`` packs. Defaults to ``'text'``.
        tokenizer_kwargs (dict, optional): Extra arguments of
            ``AutoTokenizer.from_pretrained`` (e.g. ``local_files_only=True``
            or ``revision``).
    """

    def __init__(self,
                 tokenizer: str,
                 max_length: int = 128,
                 normalize: bool = True,
                 key: str = 'tweet_text',
                 out_key: str = 'text',
                 tokenizer_kwargs: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        if not isinstance(tokenizer, str) or not tokenizer:
            raise ValueError(f'tokenizer={tokenizer!r} must be a hub name or '
                             'a local folder (a non-empty str)')
        if isinstance(max_length, bool) or not isinstance(
                max_length, int) or max_length < 2:
            raise ValueError(f'max_length={max_length!r} must be an int >= 2 '
                             '(room for [CLS] and [SEP])')
        for name, value in (('key', key), ('out_key', out_key)):
            if not isinstance(value, str) or not value:
                raise ValueError(f'{name}={value!r} must be a non-empty str')
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self.normalize = bool(normalize)
        self.key = key
        self.out_key = out_key
        self.tokenizer_kwargs = dict(tokenizer_kwargs or {})
        self._tokenizer: Any = None

    @property
    def tokenizer(self) -> Any:
        """transformers.PreTrainedTokenizerBase: loaded on first use."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.tokenizer_name,
                                             **self.tokenizer_kwargs)
        return self._tokenizer

    def __getstate__(self) -> dict:
        # workers started by spawn load their own tokenizer
        state = self.__dict__.copy()
        state['_tokenizer'] = None
        return state

    def transform(self, results: dict) -> dict:
        """Tokenize ``results[key]`` into ``results[out_key]``.

        Args:
            results (dict): Holds the raw text under ``key``.

        Returns:
            dict: ``results`` with ``out_key`` = int64 ``(2, max_length)``.

        Raises:
            KeyError: ``key`` is missing (naming the keys present).
            TypeError: The text is not a str.
        """
        if self.key not in results:
            raise KeyError(f'{self.key!r} is missing from the results; keys: '
                           f'{sorted(results)}')
        text = results[self.key]
        if not isinstance(text, str):
            raise TypeError(f'results[{self.key!r}] is a '
                            f'{type(text).__name__}, not a str')
        if self.normalize:
            text = normalize_tweet(text)
        enc = self.tokenizer(
            text,
            padding='max_length',
            truncation=True,
            max_length=self.max_length,
            return_attention_mask=True,
            return_token_type_ids=False)
        results[self.out_key] = np.stack([
            np.asarray(enc['input_ids'], dtype=np.int64),
            np.asarray(enc['attention_mask'], dtype=np.int64)
        ])  # (2, max_length)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(tokenizer={self.tokenizer_name!r}, '
                f'max_length={self.max_length}, normalize={self.normalize}, '
                f'key={self.key!r}, out_key={self.out_key!r})')
