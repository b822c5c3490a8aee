"""Errors a user can act on. The CLI prints their message alone, without a traceback."""


class GandctError(Exception):
    """A problem with the input, the params or the environment, explained in the message."""


class ParamsError(GandctError):
    """`params.yaml` is missing a key, has an unknown key, or a value of the wrong type."""
