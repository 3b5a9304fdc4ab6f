"""The single error type of the data layer."""


class DataError(ValueError):
    """Missing or malformed data: the message names the file and says what was expected.

    It is a ValueError so that callers outside genlab can catch it without importing genlab.
    """
