"""AV-digits: spoken and handwritten digits, the data set made offline."""
from fdkd_plugin.registry import DATASETS
from .crema_d import CremaDDataset

__all__ = ['AVDigitsDataset']


@DATASETS.register_module()
class AVDigitsDataset(CremaDDataset):
    """AV-digits: a spoken numeral (audio) paired with a handwritten digit.

    The layout is CREMA-D's, written by
    ``tools/dataset_converters/make_avdigits.py``; the label column holds
    the digit, classes ``'0'..'9'`` map to labels 0..9::

        data/avdigits/
        ├── train.csv                 # <clip>,7
        ├── val.csv
        ├── test.csv
        ├── AudioWAV/
        │   ├── <clip>.wav            # mono, 16-bit, 22050 Hz, about 1 s
        │   └── ...
        └── Image-01-FPS/
            ├── <clip>/
            │   ├── frame_0000.jpg    # RGB 32x32
            │   ├── frame_0001.jpg
            │   └── frame_0002.jpg
            └── ...

    Args:
        ann_file (str): ``'train.csv'``, ``'val.csv'`` or ``'test.csv'``.
        **kwargs: See :class:`CremaDDataset` and :class:`BaseAVDataset`.
    """

    METAINFO: dict = dict(classes=tuple(str(d) for d in range(10)))
    PREPARE: str = ('generate it with `make data` (runs '
                    'tools/dataset_converters/make_avdigits.py --out '
                    'data/avdigits; no download)')
