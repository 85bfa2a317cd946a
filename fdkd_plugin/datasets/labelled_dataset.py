"""What the project's classification data sets share: mmpretrain's label
API. (The checks of their index files and the one warning about skipped
rows are functions in :mod:`fdkd_plugin.datasets.checks`, shared with the
segmentation data set.)"""
from typing import List

import numpy as np
from mmengine.dataset import BaseDataset

__all__ = ['LabelledDataset']


class LabelledDataset(BaseDataset):
    """An MMEngine ``BaseDataset`` whose data infos carry ``gt_label``.

    Adds the label accessors mmpretrain's samplers and analysis tools read
    (``get_cat_ids``, ``get_gt_labels``).
    """

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
