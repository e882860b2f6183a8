"""User-facing errors: problems the user can fix (bad file, config, unreachable server).

The CLI prints these as one clear line without a traceback; anything else is a bug and keeps its traceback.
"""


class SpeciarlError(Exception):
    """Base of every error the CLI reports as `speciarl <cmd>: error: <message>`."""


class ConfigError(SpeciarlError):
    """A bad config file or argument."""
