"""Exceptions raised by the crypto package.

Every failure the package reports is a ``CryptoError``, which is a ``ValueError``: callers can
catch one base class, and no exception from PyNaCl or the standard library escapes the public
API. The subclasses say which check failed, so a verifier can name the broken part of an export.
"""


class CryptoError(ValueError):
    """Base class: the input was rejected by a cryptographic or format check."""


class InvalidKey(CryptoError):
    """A seed or public key has the wrong length, is not a valid point, or has small order."""


class InsecureKeyFile(InvalidKey):
    """A key file is not a regular file or is readable by group or others."""


class InvalidSignature(CryptoError):
    """A signature is malformed, non-canonical or does not verify."""


class NonCanonical(CryptoError):
    """Bytes are not exactly the canonical encoding of the value they parse to."""


class UnsupportedValue(CryptoError):
    """A value cannot be canonically encoded (float, huge integer, lone surrogate, ...)."""


class InvalidStatement(CryptoError):
    """A signed statement has the wrong type or missing, extra or malformed fields."""


class InvalidCertificate(InvalidStatement):
    """A credential certificate is malformed or was not issued by the expected key."""


class CertificateNotYetValid(InvalidCertificate):
    """The certificate's ``not_before`` lies after the time of use."""


class CertificateExpired(InvalidCertificate):
    """The certificate's ``not_after`` lies before the time of use."""


class InvalidProof(CryptoError):
    """A Merkle inclusion or consistency proof does not hold."""


class MalformedProof(InvalidProof):
    """A proof or its parameters are structurally wrong (sizes, lengths, indices)."""


class ProofMismatch(InvalidProof):
    """A well-formed proof leads to a root other than the one given."""


class InvalidCheckpoint(CryptoError):
    """A checkpoint is for another log or cannot be used as given."""


class MalformedNote(InvalidCheckpoint):
    """A signed note or checkpoint body breaks the strict text format."""


class InvalidPinFormat(CryptoError):
    """A PIN or PUK is not a string of the required number of ASCII digits."""


class InvalidPinHash(CryptoError):
    """A stored PIN hash is not an argon2id hash string this module accepts."""


class InvalidCardCode(CryptoError):
    """A card number, backup code or QR payload that is not of the documented form."""
