"""Domain exceptions. Each carries a message a user can act on; the CLI and API translate them."""


class EvalkitError(Exception):
    """Base of every error evalkit raises on purpose."""


class UsageError(EvalkitError):
    """The request itself is wrong: unknown format, bad option value, missing file."""


class StoreError(EvalkitError):
    """The store cannot be reached or is not at a usable schema revision."""


class NotFoundError(EvalkitError):
    """A referenced record does not exist."""
