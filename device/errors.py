"""One exception root for the station.

An `OhsaError` is a user-facing problem: the command line prints its message as one line on
stderr and exits non-zero, never a traceback. Concrete errors also inherit the builtin they
resemble, as gpiozero's do, so callers can catch either.
"""


class OhsaError(Exception):
    """A problem the user can fix; its message names the input and what is wrong."""

    exit_code = 2


class InputError(OhsaError, ValueError):
    """A file or argument that cannot be used (missing, undecodable, wrong format)."""


class ModelError(OhsaError, FileNotFoundError):
    """The MoveNet model file is missing, truncated or has the wrong hash."""


class ConfigError(OhsaError, ValueError):
    """The station's config file is invalid; the message names the key path."""


class RuntimeMissing(OhsaError, ImportError):
    """Neither LiteRT nor tflite-runtime can be imported."""
