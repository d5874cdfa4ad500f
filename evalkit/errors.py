"""Domain exceptions. Each carries a message a user can act on; the CLI and API translate them."""


class EvalkitError(Exception):
    """Base of every error evalkit raises on purpose."""


class UsageError(EvalkitError):
    """The request itself is wrong: unknown format, bad option value, missing file."""


class StoreError(EvalkitError):
    """The store cannot be reached or is not at a usable schema revision."""


class NotFoundError(EvalkitError):
    """A referenced record does not exist."""


class IngestInterrupted(KeyboardInterrupt):
    """An ingest stopped by Ctrl-C (or SIGTERM in the CLI), carrying what it had done: callers
    that catch KeyboardInterrupt still do, and the CLI can say what was stored.

    ``report`` is an ``IngestReport``: its complete batches are stored, nothing after them.
    """

    def __init__(self, report: object) -> None:
        super().__init__("ingest interrupted")
        self.report = report
