"""genlab's error type for configs, checkpoints and user input outside the data layer.

The data layer has its own ``genlab.data.DataError`` because ``genlab.data`` depends on nothing
else of genlab; the CLI reports both as clear messages and exits non-zero.
"""


class GenlabError(Exception):
    """A user-facing error: the message names the file or key and says what was expected."""


class ConfigError(GenlabError):
    """An unknown config key, a wrong type, or an invalid combination of options."""


class CheckpointError(GenlabError):
    """A file that is not a genlab checkpoint, or one that belongs to another model/config."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint damaged since it was written: tensors that differ from their stored digest
    or cannot be read, or weights that are not finite."""


class TrainingDivergedError(GenlabError):
    """The loss became NaN or Inf; the last good checkpoint was left untouched."""
