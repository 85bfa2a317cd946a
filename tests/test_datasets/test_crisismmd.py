"""CrisisMMD: the split-file reader (labels, merge, missing images, errors),
tweet normalization, fdkd.TokenizeText, and the config's pipelines packed
and stacked as the models receive them."""
import os.path as osp
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from fdkd_plugin.datasets import (CRISISMMD_CLASSES, CrisisMMDDataset,
                                  TokenizeText)
from fdkd_plugin.datasets.crisismmd import (CRISISMMD_COLUMNS,
                                            CRISISMMD_LABEL_MERGE)
from fdkd_plugin.datasets.transforms.text import normalize_tweet
from fdkd_plugin.registry import DATASETS, MODELS

from fdkd_helpers import REPO_ROOT
from test_models.test_text_classifier import (TINY_WORDS,
                                              write_tiny_tokenizer)

SPLIT = ('crisismmd_datasplit_agreed_label/'
         'task_humanitarian_text_img_agreed_lab_{}.tsv')
#: Words of each class's tweets (all in the tiny vocabulary), and the BGR
#: colour of its images.
CLASS_WORDS = {
    'affected_individuals': ('people', 'injured'),
    'infrastructure_and_utility_damage': ('bridge', 'damage'),
    'rescue_volunteering_or_donation_effort': ('donate', 'help'),
    'other_relevant_information': ('news', 'update'),
    'not_humanitarian': ('music', 'fun'),
}
COLOURS = {
    label: (40 * i + 20, 200 - 40 * i, 90 + 30 * i)
    for i, label in enumerate(CLASS_WORDS)
}
#: The label of each row of the default train split: every class, and the
#: finer v2.0 labels that merge into two of them.
TRAIN_LABELS = (
    'affected_individuals', 'infrastructure_and_utility_damage',
    'rescue_volunteering_or_donation_effort', 'other_relevant_information',
    'not_humanitarian', 'injured_or_dead_people', 'vehicle_damage',
    'missing_or_found_people', 'rescue_volunteering_or_donation_effort',
    'not_humanitarian')


def canonical(label: str) -> str:
    return CRISISMMD_LABEL_MERGE.get(label, label)


def write_crisismmd(root: Path,
                    split: str = 'train',
                    labels: Sequence[str] = TRAIN_LABELS,
                    missing: Iterable[int] = (),
                    image_size: Tuple[int, int] = (30, 40),
                    columns: Sequence[str] = CRISISMMD_COLUMNS,
                    overrides: Optional[Dict[int, Dict[str, str]]] = None
                    ) -> List[Dict[str, str]]:
    """Write one split in the v2.0 layout under ``root`` (a tab-separated
    file with a header + one JPEG per row, except the rows in ``missing``);
    return the rows as written."""
    missing, overrides = set(missing), overrides or {}
    rows = []
    for i, label in enumerate(labels):
        words = CLASS_WORDS[canonical(label)]
        tweet_id = f'9{split[:2].encode().hex()}{i:04d}'
        image_id = f'{tweet_id}_0'
        event = ('hurricane_harvey', 'mexico_earthquake')[i % 2]
        row = dict(
            event_name=event,
            tweet_id=tweet_id,
            image_id=image_id,
            tweet_text=f'RT @Crisis{i}: the {words[0]} {words[1]}! '
            f'https://t.co/x{i}',
            image=f'data_image/{event}/1_9_2017/{image_id}.jpg',
            label=label,
            label_text=label,
            label_image=label,
            label_text_image='Positive')
        row.update(overrides.get(i, {}))
        rows.append(row)
        if i not in missing:
            path = root / row['image']
            path.parent.mkdir(parents=True, exist_ok=True)
            img = np.empty((*image_size, 3), np.uint8)
            img[:] = COLOURS[canonical(label)]
            assert cv2.imwrite(str(path), img)
    ann = root / SPLIT.format(split)
    ann.parent.mkdir(parents=True, exist_ok=True)
    lines = ['\t'.join(columns)]
    lines += ['\t'.join(row[c] for c in columns) for row in rows]
    ann.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return rows


def load(root: Path, split: str = 'train', **kwargs) -> CrisisMMDDataset:
    # serialize_data=False: no pickled copy (and its ~1 s gc.collect)
    return CrisisMMDDataset(
        ann_file=SPLIT.format(split),
        data_root=str(root),
        serialize_data=False,
        **kwargs)


# ------------------------------------------------------------------ dataset
def test_rows_labels_merge_and_data_infos(tmp_path):
    rows = write_crisismmd(tmp_path)
    ds = load(tmp_path)
    assert len(ds) == len(TRAIN_LABELS)
    assert ds.CLASSES == CRISISMMD_CLASSES
    expected = [CRISISMMD_CLASSES.index(canonical(x)) for x in TRAIN_LABELS]
    # the merged labels: injured / missing -> 0, vehicle_damage -> 1
    assert expected[5:8] == [0, 1, 0]
    assert ds.get_gt_labels().tolist() == expected
    assert [ds.get_cat_ids(i) for i in (5, 6)] == [[0], [1]]
    info = ds.get_data_info(6)
    assert info['label_name'] == 'vehicle_damage'
    assert info['tweet_text'] == rows[6]['tweet_text']  # raw, not normalized
    assert info['img_path'] == osp.join(str(tmp_path), rows[6]['image'])
    assert (info['tweet_id'], info['image_id'], info['event_name']) == (
        rows[6]['tweet_id'], rows[6]['image_id'], rows[6]['event_name'])
    assert info['sample_idx'] == 6


def test_missing_images_are_skipped_with_one_warning_or_raise(tmp_path):
    rows = write_crisismmd(tmp_path, missing=(2, 7))
    with pytest.warns(UserWarning) as record:
        ds = load(tmp_path)
    msgs = [str(w.message) for w in record
            if 'CrisisMMDDataset' in str(w.message)]
    assert len(msgs) == 1
    assert 'skipped 2 of 10 rows' in msgs[0]
    assert rows[2]['image'] in msgs[0]  # the first missing path
    assert len(ds) == 8
    kept = [ds.get_data_info(i)['image_id'] for i in range(len(ds))]
    assert rows[2]['image_id'] not in kept and rows[7]['image_id'] not in kept
    with pytest.raises(FileNotFoundError,
                       match=rf"{rows[2]['image_id']}.*line 4 of"):
        load(tmp_path, strict=True)


def test_label_field_and_label_map_options(tmp_path):
    # row 0: text says damage, image says not humanitarian
    write_crisismmd(
        tmp_path,
        overrides={0: dict(label_text='infrastructure_and_utility_damage',
                           label_image='not_humanitarian')})
    assert load(tmp_path).get_gt_labels()[0] == 0
    assert load(tmp_path, label_field='label_text').get_gt_labels()[0] == 1
    assert load(tmp_path, label_field='label_image').get_gt_labels()[0] == 4
    # without the merge the finer v2.0 labels are unknown
    with pytest.raises(ValueError,
                       match="unknown label 'injured_or_dead_people' in "
                       'line 7 of'):
        load(tmp_path, label_map={})
    # a map of one's own
    ds = load(
        tmp_path,
        label_map=dict(
            injured_or_dead_people='not_humanitarian',
            vehicle_damage='infrastructure_and_utility_damage',
            missing_or_found_people='affected_individuals'))
    assert ds.get_gt_labels()[5] == 4


def test_bad_files_and_arguments(tmp_path):
    write_crisismmd(tmp_path, overrides={3: dict(label='flood_warning')})
    with pytest.raises(ValueError, match="unknown label 'flood_warning' in "
                       'line 5 of'):
        load(tmp_path)
    with pytest.raises(ValueError, match="label_field='labels' must be one"):
        load(tmp_path, label_field='labels')
    with pytest.raises(ValueError, match="maps to names that are not"):
        load(tmp_path, label_map=dict(vehicle_damage='vehicles'))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load(tmp_path, split='dev')
    # a header without the image column
    write_crisismmd(
        tmp_path / 'b', columns=[c for c in CRISISMMD_COLUMNS if c != 'image'])
    with pytest.raises(ValueError, match=r"no column\(s\) \['image'\]"):
        load(tmp_path / 'b')
    # a row with a tab inside its text has one field too many
    write_crisismmd(tmp_path / 'c', overrides={1: dict(tweet_text='a\tb')})
    with pytest.raises(ValueError, match='line 3 of .* has 10 tab-separated '
                       'fields, the header 9'):
        load(tmp_path / 'c')


# ------------------------------------------------------------ TokenizeText
def test_normalize_tweet_by_hand():
    assert normalize_tweet(
        'RT @FEMA_gov: Shelters open &amp; safe  https://t.co/AbC1 '
        'www.ready.gov\n#Harvey') == ('RT @user: Shelters open & safe http '
                                      'http #Harvey')
    # an e-mail address is not a mention
    assert normalize_tweet('mail help@redcross.org') == \
        'mail help@redcross.org'


def test_tokenize_text_ids_mask_truncation_and_normalize(tmp_path):
    folder = write_tiny_tokenizer(tmp_path / 'tok')
    idx = {w: i for i, w in enumerate(TINY_WORDS)}
    tok = TokenizeText(folder, max_length=10)
    out = tok(dict(tweet_text='RT @Someone: the flood https://t.co/Z9'))
    packed = out['text']
    assert packed.dtype == np.int64 and packed.shape == (2, 10)
    # rt @ user : the flood http, between [CLS] and [SEP], then [PAD]
    words = ['[CLS]', 'rt', '@', 'user', ':', 'the', 'flood', 'http', '[SEP]']
    assert packed[0].tolist() == [idx[w] for w in words] + [0]
    assert packed[1].tolist() == [1] * 9 + [0]
    assert out['tweet_text'].startswith('RT @Someone')  # the raw text stays
    # without normalization the mention and the URL are unknown pieces
    raw = TokenizeText(
        folder, max_length=10,
        normalize=False)(dict(tweet_text='RT @Someone: the flood'))['text']
    assert raw[0].tolist()[:5] == [idx['[CLS]'], idx['rt'], idx['@'],
                                   idx['[UNK]'], idx[':']]
    # truncation keeps [SEP] last; another key / out_key
    short = TokenizeText(folder, max_length=4, key='t', out_key='tok')(
        dict(t='the people injured dead'))['tok']
    assert short.tolist() == [[2, idx['the'], idx['people'], 3],
                              [1, 1, 1, 1]]


def test_tokenize_text_errors(tmp_path):
    folder = write_tiny_tokenizer(tmp_path / 'tok')
    with pytest.raises(ValueError, match='max_length=1 must be an int >= 2'):
        TokenizeText(folder, max_length=1)
    with pytest.raises(ValueError, match="tokenizer='' must be"):
        TokenizeText('')
    with pytest.raises(ValueError, match="out_key='' must be"):
        TokenizeText(folder, out_key='')
    with pytest.raises(KeyError, match="'tweet_text' is missing"):
        TokenizeText(folder)(dict(text='x'))
    with pytest.raises(TypeError, match='is a float, not a str'):
        TokenizeText(folder)(dict(tweet_text=float('nan')))
    with pytest.raises(OSError, match='cannot load the tokenizer'):
        TokenizeText(str(tmp_path / 'absent'))(dict(tweet_text='x'))


# ------------------------------------------------- the config's pipelines
def config_dataset(root: Path, tokenizer: str, pipeline_key: str,
                   split: str = 'dev', max_length: int = 12) -> dict:
    """The dataset of a crisismmd config's loader, pointed at ``root`` with
    the tiny tokenizer."""
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/fdkd/fdkd_mbv2_bert-base_1xb64-20e_'
                            'crisismmd-text-from-image.py'))
    loader = cfg.val_dataloader if split == 'dev' else cfg.train_dataloader
    ds = loader.dataset
    ds.data_root = str(root)
    ds.serialize_data = False
    ds.pipeline = cfg[pipeline_key]
    for t in ds.pipeline:
        if t.type == 'fdkd.TokenizeText':
            t.update(tokenizer=tokenizer, max_length=max_length)
    with DefaultScope.overwrite_default_scope('fdkd'):
        return DATASETS.build(ds)


def test_test_pipeline_packs_text_and_normalized_image(tmp_path):
    labels = list(CLASS_WORDS)
    rows = write_crisismmd(tmp_path, split='dev', labels=labels)
    tok = write_tiny_tokenizer(tmp_path / 'tok')
    ds = config_dataset(tmp_path, tok, 'test_pipeline')
    batch = pseudo_collate([ds[i] for i in range(len(ds))])
    sample = ds[1]
    inputs = sample['inputs']
    assert set(inputs) == {'text', 'image'}
    assert inputs['text'].dtype == torch.int64
    assert inputs['text'].shape == (2, 12)
    assert inputs['image'].dtype == torch.float32
    assert inputs['image'].shape == (3, 224, 224)  # short edge 256, crop 224
    # a one-colour image: every pixel is (rgb - mean) / std, channels RGB
    b, g, r = COLOURS[labels[1]]
    expected = (np.array([r, g, b]) - [123.675, 116.28, 103.53]) / \
        [58.395, 57.12, 57.375]
    got = inputs['image'].mean(dim=(1, 2)).numpy()
    np.testing.assert_allclose(got, expected, atol=3 / 57)
    assert sample['data_samples'].gt_label.tolist() == [1]
    assert sample['data_samples'].image_id == rows[1]['image_id']

    # the unchanged data pre-processor stacks both modalities
    with DefaultScope.overwrite_default_scope('fdkd'):
        pre = MODELS.build(dict(type='fdkd.MultiModalDataPreprocessor'))
        text_only = MODELS.build(
            dict(type='fdkd.MultiModalDataPreprocessor', modality='text'))
    data = pre(batch)
    assert data['inputs']['text'].shape == (5, 2, 12)
    assert data['inputs']['image'].shape == (5, 3, 224, 224)
    assert text_only(batch)['inputs'].dtype == torch.int64


def test_train_pipeline_crops_and_flips(tmp_path):
    write_crisismmd(tmp_path, labels=['affected_individuals'])
    ds = config_dataset(tmp_path, write_tiny_tokenizer(tmp_path / 'tok'),
                        'image_train_pipeline', split='train')
    # a bright left half, a dark right half: a flip swaps the sides
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :30] = 255
    assert cv2.imwrite(ds.get_data_info(0)['img_path'], img)
    sides = set()
    for seed in range(20):
        np.random.seed(seed)
        sample = ds[0]
        assert set(sample['inputs']) == {'image'}
        x = sample['inputs']['image']
        assert x.shape == (3, 224, 224)
        left, right = x[0, :, :112].mean(), x[0, :, 112:].mean()
        sides.add('left' if left > right + 0.1 else
                  'right' if right > left + 0.1 else 'even')
    # crops that span both halves show the bright half on either side
    assert {'left', 'right'} <= sides
