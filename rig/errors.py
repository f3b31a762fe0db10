"""One exception tree for the whole rig.

Every error a user can see names *what* failed and *where* (file, field, frame, APDU,
instrument command), so a bench log is enough to act on it.
"""


class RigError(Exception):
    """Base of every error rig raises on purpose."""


class ConfigError(RigError):
    """A bench config or meter profile is invalid (names file, field and reason)."""


class ProtocolError(RigError):
    """A meter protocol exchange failed: malformed frame, checksum, timeout, abnormal reply."""


class CardError(RigError):
    """A card operation failed: no reader, no card, removed card, bad status word, bad record."""


class InstrumentError(RigError):
    """An instrument (load, source) answered an error or did not answer."""


class BillingError(RigError):
    """The billing centre refused an operation; the message is the reason shown to an operator."""
