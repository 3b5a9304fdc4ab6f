"""genlab's data layer: datasets as in-memory uint8 tensors, views and batching.

Depends on nothing else of genlab (stdlib, numpy, torch, Pillow, tqdm only), so it can be
used and tested on its own.
"""

from genlab.data.batches import BatchIterator
from genlab.data.dataset import ImageDataset, Split, dataset_names, load_dataset
from genlab.data.errors import DataError
from genlab.data.locate import default_data_dirs
from genlab.data.status import dataset_path, dataset_status, probe_dataset
from genlab.data.views import (
    binarize_dynamic,
    binarize_static,
    binarize_threshold,
    discretize,
    resize_images,
    to_float,
)

__all__ = [
    "BatchIterator",
    "DataError",
    "ImageDataset",
    "Split",
    "binarize_dynamic",
    "binarize_static",
    "binarize_threshold",
    "dataset_names",
    "dataset_path",
    "dataset_status",
    "default_data_dirs",
    "discretize",
    "load_dataset",
    "probe_dataset",
    "resize_images",
    "to_float",
]
