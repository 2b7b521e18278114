"""Signature checks of an election record, on every core.

The verifier queues two kinds of work while it reads the record: certificates (the issuer's
signature and the whole of `crypto.certificates.verify_certificate`, including the card key's
validity as a prime-order point) and statement signatures (a ballot or proxy statement against
the card key its certificate names). `SignatureChecker` runs them in chunks, in worker
processes (`ProcessPoolExecutor`) or inline, and returns only the failures; the verifier goes
on with its other checks meanwhile.

Statement signatures are checked like `crypto.keys.PublicKey.verify` (canonical S, then
libsodium through PyNaCl) without validating the card key again for every ballot: each card
key is validated once, in its certificate's task, and a ballot whose certificate fails is
refused for that reason.

Pure in the domain's sense: no I/O, no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager

import nacl.exceptions
import nacl.signing

from crypto.certificates import verify_certificate
from crypto.errors import CryptoError, InvalidSignature
from crypto.keys import PublicKey, check_signature_encoding
from crypto.statements import parse_time

__all__ = [
    "CHUNK",
    "CertificateTask",
    "SignatureChecker",
    "SignatureTask",
    "check_certificates",
    "check_signatures",
    "signature_checker",
]

#: Items per chunk sent to a worker: large enough that sending costs little, small enough
#: that the last chunks keep every core busy.
CHUNK = 1024

#: (task id, public key, message, signature)
SignatureTask = tuple[int, bytes, bytes, bytes]
#: (task id, issuer public key, certificate bytes, signature, the certificate's not_before)
CertificateTask = tuple[int, bytes, bytes, bytes, str]
Failure = tuple[int, str]

_NACL_ERRORS = (nacl.exceptions.CryptoError, ValueError, TypeError)


def check_signatures(tasks: list[SignatureTask]) -> list[Failure]:
    """The tasks whose signature does not verify, with the reason."""
    failures: list[Failure] = []
    verify_key = nacl.signing.VerifyKey
    for task_id, key, message, signature in tasks:
        try:
            check_signature_encoding(signature)
            verify_key(key).verify(message, signature)
        except InvalidSignature as exc:
            failures.append((task_id, str(exc)))
        except _NACL_ERRORS:
            failures.append((task_id, "signature does not verify"))
    return failures


def check_certificates(tasks: list[CertificateTask]) -> list[Failure]:
    """The certificates that `verify_certificate` refuses (at their own not_before, so that
    validity at the time of use is left to the verifier), with the reason."""
    failures: list[Failure] = []
    issuers: dict[bytes, PublicKey] = {}
    for task_id, issuer, data, signature, not_before in tasks:
        try:
            key = issuers.get(issuer)
            if key is None:
                key = issuers[issuer] = PublicKey(issuer)
            verify_certificate(key, data, signature, at=parse_time(not_before))
        except CryptoError as exc:
            failures.append((task_id, str(exc)))
    return failures


class SignatureChecker:
    """Queue signature work; collect the failures at the end.

    With an executor the chunks run in its workers while the caller goes on; without one
    they run inline, at `submit`.
    """

    def __init__(self, executor: Executor | None = None, chunk: int = CHUNK) -> None:
        self.executor = executor
        self.chunk = chunk
        self.count = 0
        self._signatures: list[SignatureTask] = []
        self._certificates: list[CertificateTask] = []
        self._futures: list[Future[list[Failure]]] = []
        self._done: list[Failure] = []

    def signature(self, task: SignatureTask) -> None:
        self.count += 1
        self._signatures.append(task)
        if len(self._signatures) >= self.chunk:
            self._flush_signatures()

    def certificate(self, task: CertificateTask) -> None:
        self.count += 1
        self._certificates.append(task)
        if len(self._certificates) >= self.chunk:
            self._flush_certificates()

    def _run(self, function: Callable[[list[object]], list[Failure]], tasks: list[object]) -> None:
        if self.executor is None:
            self._done.extend(function(tasks))
        else:
            self._futures.append(self.executor.submit(function, tasks))

    def _flush_signatures(self) -> None:
        tasks, self._signatures = self._signatures, []
        if tasks:
            self._run(check_signatures, tasks)  # type: ignore[arg-type]

    def _flush_certificates(self) -> None:
        tasks, self._certificates = self._certificates, []
        if tasks:
            self._run(check_certificates, tasks)  # type: ignore[arg-type]

    def flush(self) -> None:
        """Send what is queued (call once everything is queued, before other work)."""
        self._flush_certificates()
        self._flush_signatures()

    def failures(self) -> list[Failure]:
        """Wait for every queued task; the failures, by task id."""
        self.flush()
        found = list(self._done)
        for future in self._futures:
            found.extend(future.result())
        self._futures = []
        return sorted(found)


def _lower_priority() -> None:
    """Worker initializer: yield the CPU to the verifier's own process.

    The verifier reads and checks everything else while the workers check signatures; with
    one worker per core it would get only a share of a core, and its work is the part that
    cannot be spread. At a lower priority the workers take whatever CPU it leaves.
    """
    if hasattr(os, "nice"):
        os.nice(5)


@contextmanager
def signature_checker(jobs: int | None = None) -> Iterator[SignatureChecker]:
    """A checker using `jobs` worker processes (default: every core); 1 means inline."""
    count = jobs or os.cpu_count() or 1
    if count <= 1:
        yield SignatureChecker()
        return
    with ProcessPoolExecutor(max_workers=count, initializer=_lower_priority) as executor:
        yield SignatureChecker(executor)
