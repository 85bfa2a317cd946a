"""What the project's classification data sets share: mmpretrain's label
API and the one warning about rows whose files are missing."""
import warnings
from typing import List, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

__all__ = ['LabelledDataset']


class LabelledDataset(BaseDataset):
    """An MMEngine ``BaseDataset`` whose data infos carry ``gt_label``.

    Adds the label accessors mmpretrain's samplers and analysis tools read
    (``get_cat_ids``, ``get_gt_labels``) and :meth:`warn_skipped`, the single
    warning per annotation file about rows dropped because a file is
    missing (``strict=False``).
    """

    def warn_skipped(self, skipped: Sequence[str], kept: int,
                     what: str = 'files') -> None:
        """Warn once that ``len(skipped)`` rows of ``ann_file`` were dropped.

        Args:
            skipped (Sequence[str]): The first missing path of each dropped
                row.
            kept (int): How many rows were kept.
            what (str): What was missing, for the message.
        """
        if not skipped:
            return
        warnings.warn(
            f'{type(self).__name__}: skipped {len(skipped)} of '
            f'{len(skipped) + kept} rows of {self.ann_file} whose {what} '
            f'missing (e.g. {skipped[0]}); pass strict=True to raise '
            'instead', UserWarning, stacklevel=3)

    def get_cat_ids(self, idx: int) -> List[int]:
        """Label of one item, as a list (mmpretrain's sampler API).

        Args:
            idx (int): The item index.

        Returns:
            list[int]: ``[gt_label]``.
        """
        return [int(self.get_data_info(idx)['gt_label'])]

    def get_gt_labels(self) -> np.ndarray:
        """Labels of all items.

        Returns:
            np.ndarray: (len(self), ) int64 labels.
        """
        return np.array(
            [self.get_data_info(i)['gt_label'] for i in range(len(self))],
            dtype=np.int64)
