"""The offline verifier of an election record (docs/PROTOCOL.md section 11).

`verify_record(files, log_key=..., checker=...)` takes the record's files as bytes and
returns a `Report`: every check that failed, each naming the file and the item, and a
summary. It checks, in this order of trust:

1. the files: exactly the files of a record, each as the manifest lists it;
2. the checkpoint: signed by the log key (given, or else the one in the record), for this
   area's log, and the manifest's hash in a log entry under it (the anchor), so that any
   change to any file is detected;
3. every log leaf the record uses is in the log under the checkpoint (RFC 9162), and says
   what the record says: the meeting's notice, opening, close and publication, the roll's
   hash, each certificate's issue, each revocation, ballot, proxy, paper entry and result;
4. the roll snapshot hashes to the hash logged when voting opened;
5. certificates (issuer signature), ballots and proxies (card signatures, credential valid at
   signing time and not revoked before, eligibility and scope, proxy authorisation);
6. the one-counted-ballot rule, the paper double entry, and every motion's result recomputed
   with `voting.domain.tally` and compared with the published one.

It never stops at the first failure, so one changed byte is reported by every check it
breaks. Pure: bytes in, a report out; the signature work goes to a `SignatureChecker`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, TypeVar

from crypto.checkpoint import NoteVerifier, open_checkpoint
from crypto.errors import CryptoError
from crypto.keys import PublicKey
from crypto.statements import parse_time
from voting.domain import record as rec
from voting.domain.ballot import BallotError, BallotStatement, parse_ballot, parse_choice
from voting.domain.errors import DomainError
from voting.domain.members import MAX_ID
from voting.domain.paper import (
    COUNTING,
    Decision,
    PaperError,
    SheetStatus,
    check_entry,
    check_resolution,
    compare_entries,
)
from voting.domain.procedure import MeetingState, earliest_opening, publication_is_late
from voting.domain.proxy import MotionChoices, ProxyError, ProxyStatement, parse_instructions
from voting.domain.proxy import parse_proxy as parse_proxy_statement
from voting.domain.record import (
    BallotRecord,
    LeafRecord,
    Manifest,
    MeetingRecord,
    Proofs,
    RecordError,
    RollUnit,
)
from voting.domain.tally import (
    Choice,
    TallyResult,
    UnitShare,
)
from voting.domain.verify_log import (
    Leaf,
    LeafError,
    ballot_leaf_time,
    check_inclusion,
    parse_leaf,
)
from voting.domain.verify_results import CountedInput, result_document
from voting.domain.verify_sigs import SignatureChecker

__all__ = ["CHECKS", "Failure", "Report", "read_ballot", "verify_record"]

#: The checks, in the order they are reported.
CHECKS = (
    "files",
    "checkpoint",
    "log",
    "meeting",
    "roll",
    "certificates",
    "revocations",
    "proxies",
    "ballots",
    "paper",
    "counting",
    "results",
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Failure:
    check: str
    message: str


@dataclass
class Report:
    failures: list[Failure] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    signatures: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def failed_checks(self) -> list[str]:
        found = {failure.check for failure in self.failures}
        return [check for check in CHECKS if check in found]


@dataclass(frozen=True, slots=True)
class _Certificate:
    """What the verifier needs of a certificate; `crypto.certificates` checks the rest."""

    fingerprint: str
    card: str
    holder: str
    area: str
    card_key: bytes
    not_before: dt.datetime
    not_after: dt.datetime
    issuer_key_id: str
    log_index: int


@dataclass
class _Proxy:
    record: rec.ProxyRecord
    statement: ProxyStatement
    hash: str
    instructions: dict[int, Choice]
    withdrawn: int | None
    ballots: int = 0


@dataclass(frozen=True, slots=True)
class _Vote:
    """An accepted electronic ballot, for the counting rule."""

    log_index: int
    voter: str
    motion: int
    choice: Choice
    in_person: bool
    counted: bool
    hash: str


# The common shape of a ballot statement, matched byte for byte: canonical JSON with these
# members in this order, every string free of escapes. Anything else takes the general path.
_STRING = rb'"[^"\\\x00-\x1f]*"'
_FAST_BALLOT = re.compile(
    rb'\{"area":"(?P<area>[A-Za-z0-9][A-Za-z0-9._:-]{0,63})",'
    rb'"choice":(?P<choice>' + _STRING + rb"|\[" + _STRING + rb"(?:," + _STRING + rb")*\]),"
    rb'"credential":"(?P<credential>[0-9a-f]{64})",'
    rb'"meeting":(?P<meeting>[1-9][0-9]{0,15}),'
    rb'"motion":(?P<motion>[1-9][0-9]{0,15}),'
    rb'"nonce":"(?P<nonce>[0-9a-f]{32})",'
    rb'"platform":"(?P<platform>[A-Za-z0-9][A-Za-z0-9._:-]{0,63})",'
    rb'(?:"proxy":"(?P<proxy>[0-9a-f]{64})",)?'
    rb'"roll":"(?P<roll>[0-9a-f]{64})",'
    rb'"time":"(?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)",'
    rb'"type":"ballot",'
    rb'"voter":"(?P<voter>[A-Za-z0-9][A-Za-z0-9._:-]{0,63})"\}'
)


def _id(text: bytes) -> int | None:
    value = int(text)
    return value if value <= MAX_ID else None


def read_ballot(data: bytes, times: dict[str, dt.datetime] | None = None) -> BallotStatement:
    """A ballot statement's members (section 6.1), accepting only canonical JSON.

    The common shape is matched byte for byte (`_FAST_BALLOT`), which is exact: members in
    canonical order, no whitespace, strings without escapes (canonical JSON escapes nothing
    else), integers without leading zeros, valid UTF-8. Anything else goes through
    `voting.domain.record.loads` and `parse_ballot`, which accept or name the fault.
    `times` caches parsed times (many ballots share one).
    """
    match = _FAST_BALLOT.fullmatch(data)
    if match is not None:
        try:
            data.decode("utf-8")
            meeting, motion = _id(match["meeting"]), _id(match["motion"])
            if meeting is not None and motion is not None:
                choice_bytes = match["choice"]
                choice: Any
                if choice_bytes[:1] == b"[":
                    parts = choice_bytes[1:-1].split(b",")
                    if not all(len(p) > 1 and p[:1] == p[-1:] == b'"' for p in parts):
                        raise ValueError("a label with a comma: take the general path")
                    choice = [part[1:-1].decode() for part in parts]
                else:
                    choice = choice_bytes[1:-1].decode()
                time_text = match["time"].decode()
                time = None if times is None else times.get(time_text)
                if time is None:
                    time = parse_time(time_text)
                    if times is not None:
                        times[time_text] = time
                proxy = match["proxy"]
                return BallotStatement(
                    platform=match["platform"].decode(),
                    area=match["area"].decode(),
                    meeting=meeting,
                    motion=motion,
                    roll=match["roll"].decode(),
                    voter=match["voter"].decode(),
                    credential=match["credential"].decode(),
                    choice=choice,
                    nonce=match["nonce"].decode(),
                    time=time,
                    time_text=time_text,
                    proxy=None if proxy is None else proxy.decode(),
                )
        except (ValueError, CryptoError):
            pass
    return parse_ballot(rec.loads(data))


class _Verifier:
    def __init__(
        self, files: Mapping[str, bytes], log_key: bytes | None, checker: SignatureChecker
    ) -> None:
        self.files = files
        self.log_key = log_key
        self.checker = checker
        self.report = Report()
        # task id -> (check, what); for ballots `what` is the log index, named on failure.
        self.tasks: list[tuple[str, str | int]] = []
        self.ballot_names: dict[int, str] = {}
        self.ballot_count = 0
        self.leaves: dict[int, bytes] = {}
        self.parsed: dict[int, Leaf] = {}
        self.used: set[int] = set()
        self.times: dict[str, dt.datetime] = {}

    # --- reporting ---------------------------------------------------------------------------

    def fail(self, check: str, message: str) -> None:
        self.report.failures.append(Failure(check, message))

    def note(self, line: str) -> None:
        self.report.summary.append(line)

    def decode(self, name: str, decoder: Callable[[bytes], T], check: str = "files") -> T | None:
        data = self.files.get(name)
        if data is None:
            return None
        try:
            return decoder(data)
        except RecordError as exc:
            self.fail(check, str(exc))
        except (DomainError, CryptoError) as exc:
            self.fail(check, f"{name}: {exc}")
        return None

    def task(self, check: str, what: str | int) -> int:
        self.tasks.append((check, what))
        return len(self.tasks) - 1

    def time(self, text: str) -> dt.datetime:
        found = self.times.get(text)
        if found is None:
            found = self.times[text] = parse_time(text)
        return found

    # --- log leaves --------------------------------------------------------------------------

    def leaf(self, index: int | None, check: str, what: str, kind: str) -> Leaf | None:
        """The parsed leaf at `index`, which `what` says is a `kind` entry; None (and a
        failure) when the record lacks it or it is another kind of entry."""
        if index is None:
            return None
        self.used.add(index)
        found = self.parsed.get(index)
        if found is None:
            entry = self.leaves.get(index)
            if entry is None:
                self.fail(check, f"{what}: log entry {index} is not in {rec.LEAVES}")
                return None
            try:
                found = parse_leaf(index, entry, self.area)
            except LeafError as exc:
                self.fail(check, f"{what}: {exc}")
                return None
            self.parsed[index] = found
        if found.kind != kind:
            self.fail(check, f"{what}: log entry {index} is a {found.kind!r} entry, not {kind!r}")
            return None
        return found

    def same(self, check: str, what: str, leaf: Leaf, expected: Mapping[str, object]) -> bool:
        """Compare members of a leaf's data with what the record says; name each difference."""
        good = True
        for name, value in expected.items():
            if leaf.data.get(name, _MISSING) != value:
                self.fail(
                    check,
                    f"{what}: log entry {leaf.index} records {name} "
                    f"{leaf.data.get(name, 'nothing')!r}, the record says {value!r}",
                )
                good = False
        return good

    # --- the run -----------------------------------------------------------------------------

    def run(self) -> Report:
        self.check_files()
        meeting = self.decode(rec.MEETING, MeetingRecord.decode)
        if meeting is None:
            self.fail("meeting", f"{rec.MEETING} cannot be read: nothing else can be checked")
            self.report.failures.sort(key=lambda f: CHECKS.index(f.check))
            return self.report
        self.meeting = meeting
        self.area = meeting.area
        # Signature work first, so that the worker processes are busy while the rest is
        # checked here: certificates and ballot statements are read and queued.
        certificates = self.check_certificates(meeting)
        ballots = self.read_ballots(certificates)
        self.checker.flush()
        self.check_log(meeting)
        roll = self.check_roll(meeting)
        self.check_certificate_leaves(certificates)
        revoked = self.check_revocations(meeting, certificates)
        proxies = self.check_proxies(meeting, roll, certificates, revoked)
        self.checker.flush()
        votes = self.check_ballots(meeting, roll, certificates, revoked, proxies, ballots)
        self.check_meeting(meeting)
        paper = self.check_paper(meeting, roll)
        counted = self.check_counting(meeting, votes)
        self.check_results(meeting, roll, counted, paper)
        self.check_unused()
        self.collect_signatures()
        self.report.signatures = self.checker.count
        self.report.failures.sort(key=lambda f: CHECKS.index(f.check))
        return self.report

    # --- 1. files and manifest ---------------------------------------------------------------

    def check_files(self) -> None:
        present = set(self.files)
        for name in rec.RECORD_FILES:
            if name not in present:
                self.fail("files", f"{name} is missing")
        for name in sorted(present - set(rec.RECORD_FILES)):
            self.fail("files", f"{name} is not a file of an election record")
        manifest = self.decode(rec.MANIFEST, Manifest.decode)
        if manifest is None:
            return
        self.manifest = manifest
        listed = {entry.name: entry for entry in manifest.files}
        for name in rec.CONTENT_FILES:
            if name not in listed:
                self.fail("files", f"the manifest does not list {name}")
        for entry in manifest.files:
            if entry.name not in rec.CONTENT_FILES:
                self.fail("files", f"the manifest lists {entry.name}, not a content file")
                continue
            data = self.files.get(entry.name)
            if data is None:
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != entry.sha256 or len(data) != entry.size:
                self.fail(
                    "files",
                    f"{entry.name} has been changed: its SHA-256 is {digest}, "
                    f"the manifest says {entry.sha256}",
                )

    # --- 2. checkpoint, anchor and inclusion -------------------------------------------------

    def check_log(self, meeting: MeetingRecord) -> None:
        manifest = getattr(self, "manifest", None)
        if manifest is not None and (manifest.area, manifest.meeting) != (
            meeting.area,
            meeting.id,
        ):
            self.fail(
                "files",
                f"the manifest is for meeting {manifest.meeting} of area {manifest.area}, "
                f"{rec.MEETING} for meeting {meeting.id} of area {meeting.area}",
            )
        leaves = self.decode(rec.LEAVES, rec.decode_leaves, "log")
        if leaves is not None:
            self.leaves = {leaf.index: leaf.entry for leaf in leaves}
        checkpoint = self.check_checkpoint(meeting)
        anchor = self.decode(rec.ANCHOR, rec.decode_anchor, "checkpoint")
        proofs = self.decode(rec.PROOFS, Proofs.decode, "log")
        if anchor is not None:
            self.check_anchor(meeting, anchor)
        if checkpoint is None or proofs is None:
            return
        size, root = checkpoint
        if proofs.size != size:
            self.fail(
                "log",
                f"{rec.PROOFS} is for tree size {proofs.size}, the checkpoint for size {size}",
            )
            return
        everything = dict(self.leaves)
        if anchor is not None:
            if anchor.index in everything or (self.leaves and anchor.index < max(self.leaves)):
                self.fail(
                    "checkpoint",
                    f"the anchor (log entry {anchor.index}) must come after every record leaf",
                )
            everything[anchor.index] = anchor.entry
        for index, message in check_inclusion(everything, size, root, proofs.hashes):
            where = rec.ANCHOR if anchor is not None and index == anchor.index else rec.LEAVES
            if index is None:
                self.fail("log", f"{rec.PROOFS}: {message}")
            else:
                self.fail(
                    "log", f"{where}: log entry {index} (checked with {rec.PROOFS}): {message}"
                )
        self.note(f"log: {len(everything)} entries proven under the checkpoint of size {size}")

    def check_checkpoint(self, meeting: MeetingRecord) -> tuple[int, bytes] | None:
        origin = f"{meeting.platform}/log/{meeting.area}"
        if meeting.log_origin != origin:
            self.fail(
                "checkpoint",
                f"{rec.MEETING}: the log is named {meeting.log_origin!r}; the log of area "
                f"{meeting.area} on {meeting.platform} is {origin!r}",
            )
        embedded = self.decode(rec.LOG_KEY, rec.decode_log_key, "checkpoint")
        verifier: NoteVerifier | None = None
        if embedded is not None:
            try:
                verifier = NoteVerifier.parse(embedded)
            except CryptoError as exc:
                self.fail("checkpoint", f"{rec.LOG_KEY}: {exc}")
            if verifier is not None and verifier.name != meeting.platform:
                self.fail(
                    "checkpoint",
                    f"{rec.LOG_KEY}: the key is named {verifier.name!r}, "
                    f"the platform is {meeting.platform!r}",
                )
        if self.log_key is not None:
            try:
                given = NoteVerifier(meeting.platform, PublicKey(self.log_key))
            except CryptoError as exc:
                self.fail("checkpoint", f"the given log key is not valid: {exc}")
                return None
            if verifier is not None and verifier.public_key.raw != self.log_key:
                self.fail("checkpoint", f"{rec.LOG_KEY} holds another key than the given one")
            verifier = given
            self.note(f"checkpoint: checked with the given log key {self.log_key.hex()}")
        elif verifier is not None:
            self.note(
                f"checkpoint: checked with the log key in the record ({verifier.encode()}); "
                "pass --log-key to check it against a key you trust"
            )
        note = self.files.get(rec.CHECKPOINT)
        if verifier is None or note is None:
            return None
        try:
            checkpoint = open_checkpoint(note, [verifier], origin=meeting.log_origin)
        except CryptoError as exc:
            self.fail("checkpoint", f"{rec.CHECKPOINT}: {exc}")
            return None
        body = checkpoint.body().encode()
        if not note.startswith(body + b"\n") or note.count(b"\n") != body.count(b"\n") + 2:
            self.fail("checkpoint", f"{rec.CHECKPOINT}: carries more than the log's signature")
            return None
        self.note(f"checkpoint: log {checkpoint.origin}, size {checkpoint.size}")
        return checkpoint.size, checkpoint.root_hash

    def check_anchor(self, meeting: MeetingRecord, anchor: LeafRecord) -> None:
        manifest = self.files.get(rec.MANIFEST)
        if manifest is None:
            return
        try:
            leaf = parse_leaf(anchor.index, anchor.entry, meeting.area)
        except LeafError as exc:
            self.fail("checkpoint", f"{rec.ANCHOR}: {exc}")
            return
        expected = {"meeting": meeting.id, "manifest_sha256": hashlib.sha256(manifest).hexdigest()}
        if leaf.kind != rec.EXPORT_KIND or leaf.data != expected:
            self.fail(
                "checkpoint",
                f"{rec.ANCHOR}: log entry {anchor.index} does not record this manifest "
                f"(it records {leaf.kind} {leaf.data}, the manifest hashes to "
                f"{expected['manifest_sha256']}): {rec.MANIFEST} or the anchor has been changed",
            )
        else:
            self.note(
                f"anchor: the manifest is log entry {anchor.index}, exported {leaf.time_text}"
            )

    # --- 3. the meeting -------------------------------------------------------------------------

    def check_meeting(self, meeting: MeetingRecord) -> None:
        log = meeting.log
        what = f"meeting {meeting.id}"
        rules = meeting.rules
        state = meeting.state
        if state in (MeetingState.draft, MeetingState.noticed, MeetingState.open):
            self.fail("meeting", f"{what} is {state.value}: a record is made after the close")
        expected_steps = {
            "close": state is not MeetingState.open,
            "publish": state is MeetingState.published or log.publish is not None,
            "annul": state is MeetingState.annulled,
        }
        for step, wanted in expected_steps.items():
            present = getattr(log, step) is not None
            if wanted != present:
                self.fail(
                    "meeting",
                    f"{what} is {state.value} but its {step} is "
                    f"{'missing' if wanted else 'recorded'}",
                )
        notice = self.leaf(log.notice, "meeting", f"{what} notice", "meeting.notice")
        if notice is not None:
            self.same(
                "meeting",
                f"{what} notice",
                notice,
                {
                    "meeting": meeting.id,
                    "window_opens_at": meeting.window_opens_at,
                    "window_closes_at": meeting.window_closes_at,
                    "rules": rules.to_dict(),
                    "motions": [
                        {
                            "position": m.position,
                            "content_sha256": rec.motion_content_sha256(m.spec),
                        }
                        for m in meeting.motions
                    ],
                },
            )
            self._same_time(notice, meeting.notice_posted_at, f"{what} notice")
        opened = self.leaf(log.open, "meeting", f"{what} opening", "meeting.open")
        if opened is not None:
            self.same(
                "meeting",
                f"{what} opening",
                opened,
                {
                    "meeting": meeting.id,
                    "roll_version": meeting.roll_version,
                    "roll_sha256": meeting.roll_sha256,
                },
            )
            self._same_time(opened, meeting.opened_at, f"{what} opening")
        closed = self.leaf(log.close, "meeting", f"{what} close", "meeting.close")
        if closed is not None:
            self.same("meeting", f"{what} close", closed, {"meeting": meeting.id})
            self._same_time(closed, meeting.closed_at, f"{what} close")
        published = self.leaf(log.publish, "meeting", f"{what} publication", "meeting.publish")
        if published is not None and meeting.closed_at and meeting.published_at:
            late = publication_is_late(
                self.time(meeting.closed_at), self.time(meeting.published_at)
            )
            self.same(
                "meeting", f"{what} publication", published, {"meeting": meeting.id, "late": late}
            )
            self._same_time(published, meeting.published_at, f"{what} publication")
        annulled = self.leaf(log.annul, "meeting", f"{what} annulment", "meeting.annul")
        if annulled is not None:
            self.same("meeting", f"{what} annulment", annulled, {"meeting": meeting.id})
            self._same_time(annulled, meeting.annulled_at, f"{what} annulment")
        order = [("notice", log.notice), ("opening", log.open), ("close", log.close)]
        order += [("publication", log.publish)]
        steps = [(name, index) for name, index in order if index is not None]
        for (first, a), (second, b) in pairwise(steps):
            if not a < b:
                self.fail("meeting", f"{what}: the {second} is logged before the {first}")
        if log.annul is not None and log.close is not None and log.annul < log.close:
            self.fail("meeting", f"{what}: the annulment is logged before the close")
        opens, closes = self.time(meeting.window_opens_at), self.time(meeting.window_closes_at)
        if opens < earliest_opening(self.time(meeting.notice_posted_at), rules.notice_days):
            self.fail("meeting", f"{what}: the window opens before the notice period has run")
        if not opens <= self.time(meeting.opened_at) < closes:
            self.fail("meeting", f"{what}: voting was opened outside the window")
        if meeting.closed_at is not None and self.time(meeting.closed_at) < closes:
            self.fail("meeting", f"{what}: closed before the window's end")
        self.check_motions(meeting)
        self.note(
            f"meeting {meeting.id} of area {meeting.area} ({meeting.title}): {state.value}; "
            f"window {meeting.window_opens_at} to {meeting.window_closes_at}; "
            f"{len(meeting.motions)} motion(s)"
        )

    def _same_time(self, leaf: Leaf, text: str | None, what: str) -> None:
        if leaf.time_text != text:
            self.fail(
                "meeting",
                f"{what}: log entry {leaf.index} is at {leaf.time_text}, the record says {text}",
            )

    def check_motions(self, meeting: MeetingRecord) -> None:
        """Replay the agenda's log entries: which motion id stands at which position, with
        which content, when the notice fixed the agenda."""
        positions: dict[int, int] = {}
        contents: dict[int, str] = {}
        for index in meeting.log.motions:
            if index > meeting.log.notice:
                self.fail("meeting", f"motion log entry {index} comes after the notice")
            leaf = self._motion_leaf(index)
            if leaf is None:
                continue
            data = leaf.data
            motion, position = data.get("motion"), data.get("position")
            if data.get("meeting") != meeting.id or not isinstance(motion, int):
                self.fail("meeting", f"motion log entry {index} is for another meeting")
                continue
            if not isinstance(position, int):
                self.fail("meeting", f"motion log entry {index} has no position")
                continue
            if leaf.kind == "motion.remove":
                if positions.pop(motion, None) != position:
                    self.fail("meeting", f"motion log entry {index} removes an unknown motion")
                for other, at in positions.items():
                    if at > position:
                        positions[other] = at - 1
                contents.pop(motion, None)
            else:
                positions[motion] = position
                contents[motion] = str(data.get("content_sha256"))
        listed = {m.id: (m.position, rec.motion_content_sha256(m.spec)) for m in meeting.motions}
        replayed = {m: (positions[m], contents[m]) for m in positions}
        if listed != replayed:
            for motion_id in sorted(set(listed) | set(replayed)):
                if listed.get(motion_id) != replayed.get(motion_id):
                    self.fail(
                        "meeting",
                        f"motion {motion_id}: {rec.MEETING} says (position, content hash) "
                        f"{listed.get(motion_id)}, the log's motion entries "
                        f"{replayed.get(motion_id)}",
                    )

    def _motion_leaf(self, index: int) -> Leaf | None:
        self.used.add(index)
        entry = self.leaves.get(index)
        if entry is None:
            self.fail("meeting", f"motion log entry {index} is not in {rec.LEAVES}")
            return None
        try:
            leaf = parse_leaf(index, entry, self.area)
        except LeafError as exc:
            self.fail("meeting", str(exc))
            return None
        if leaf.kind not in ("motion.add", "motion.update", "motion.remove"):
            self.fail("meeting", f"log entry {index} is a {leaf.kind!r} entry, not a motion entry")
            return None
        return leaf

    # --- 4. the roll -----------------------------------------------------------------------------

    def check_roll(self, meeting: MeetingRecord) -> list[RollUnit] | None:
        units = self.decode(rec.ROLL, rec.decode_roll, "roll")
        if units is None:
            return None
        digest = rec.roll_sha256(units)
        if digest != meeting.roll_sha256:
            self.fail(
                "roll",
                f"{rec.ROLL} hashes to {digest}, but the roll published when voting opened "
                f"is {meeting.roll_sha256}: the roll has been changed",
            )
        developers = {u.holder for u in units if u.developer}
        flags: dict[str, bool] = {}
        for u in units:
            if u.status != "sold" and not u.developer:
                self.fail(
                    "roll",
                    f"{rec.ROLL}: {u.building} {u.unit} is {u.status} but not marked as "
                    "the developer's",
                )
            if flags.setdefault(u.holder, u.developer) != u.developer:
                self.fail(
                    "roll", f"{rec.ROLL}: holder {u.holder} is marked developer for some units only"
                )
        if len(developers) > 1:
            self.fail("roll", f"{rec.ROLL}: more than one holder is marked as the developer")
        headcount = len({u.holder for u in units})
        self.note(f"roll: {len(units)} units, {headcount} holders, hash {digest}")
        return units

    # --- 5. certificates and revocations ----------------------------------------------------------

    def check_certificates(self, meeting: MeetingRecord) -> dict[str, _Certificate]:
        decoded = self.decode(rec.CERTIFICATES, rec.decode_certificates, "certificates")
        if decoded is None:
            return {}
        keys, records = decoded
        issuers: dict[str, bytes] = {}
        for text in keys:
            try:
                key = PublicKey.from_hex(text)
            except CryptoError as exc:
                self.fail("certificates", f"issuer key {text}: {exc}")
                continue
            issuers[key.key_id] = key.raw
        found: dict[str, _Certificate] = {}
        cards: set[str] = set()
        for item in records:
            what = f"certificate at log index {item.log_index}"
            try:
                fields = rec.loads(item.data, shaped=True)
                card, holder, area = fields["card_number"], fields["holder_id"], fields["area_code"]
                key_id, card_key = fields["issuer_key_id"], fields["card_key"]
                not_before, not_after = fields["not_before"], fields["not_after"]
                texts = (card, holder, area, key_id, card_key, not_before, not_after)
                if not all(type(text) is str for text in texts):
                    raise ValueError("members must be strings")
                assert isinstance(card, str) and isinstance(holder, str)
                assert isinstance(area, str) and isinstance(key_id, str)
                assert isinstance(card_key, str) and isinstance(not_before, str)
                certificate = _Certificate(
                    fingerprint=hashlib.sha256(item.data).hexdigest(),
                    card=card,
                    holder=holder,
                    area=area,
                    card_key=bytes.fromhex(card_key),
                    not_before=self.time(not_before),
                    not_after=self.time(str(not_after)),
                    issuer_key_id=key_id,
                    log_index=item.log_index,
                )
            except (CryptoError, KeyError, ValueError) as exc:
                self.fail("certificates", f"{what}: malformed certificate ({exc})")
                self.used.add(item.log_index)
                continue
            what = f"certificate of card {certificate.card}"
            issuer = issuers.get(key_id)
            if issuer is None:
                self.fail("certificates", f"{what}: issuer key {key_id} is not in the record")
            else:
                self.checker.certificate(
                    (self.task("certificates", what), issuer, item.data, item.signature, not_before)
                )
            if certificate.area != meeting.area:
                self.fail("certificates", f"{what}: issued for area {certificate.area}")
            if certificate.fingerprint in found or certificate.card in cards:
                self.fail("certificates", f"{what}: listed twice")
            cards.add(certificate.card)
            found[certificate.fingerprint] = certificate
        self.note(f"certificates: {len(found)} from {len(issuers)} issuer key(s)")
        return found

    def check_certificate_leaves(self, certificates: Mapping[str, _Certificate]) -> None:
        """Each certificate's "card.issue" log entry names its card, holder, key and hash."""
        for certificate in certificates.values():
            what = f"certificate of card {certificate.card}"
            leaf = self.leaf(certificate.log_index, "certificates", what, "card.issue")
            if leaf is not None:
                self.same(
                    "certificates",
                    what,
                    leaf,
                    {
                        "card": certificate.card,
                        "holder": certificate.holder,
                        "public_key": certificate.card_key.hex(),
                        "certificate": certificate.fingerprint,
                    },
                )

    def check_revocations(
        self, meeting: MeetingRecord, certificates: Mapping[str, _Certificate]
    ) -> dict[str, int]:
        """Card number -> log index of its revocation."""
        records = self.decode(rec.REVOCATIONS, rec.decode_revocations, "revocations") or []
        cards = {c.card for c in certificates.values()}
        revoked: dict[str, int] = {}
        for item in records:
            what = f"revocation of card {item.card}"
            if item.card not in cards:
                self.fail("revocations", f"{what}: the card has no certificate in the record")
            if item.card in revoked:
                self.fail("revocations", f"{what}: listed twice")
            revoked.setdefault(item.card, item.log_index)
            leaf = self.leaf(item.log_index, "revocations", what, "card.revoke")
            if leaf is not None:
                self.same("revocations", what, leaf, {"card": item.card})
                if leaf.time_text != item.time:
                    self.fail(
                        "revocations",
                        f"{what}: logged at {leaf.time_text}, the record says {item.time}",
                    )
        if records:
            self.note(f"revocations: {len(records)}")
        return revoked

    # --- shared statement checks -------------------------------------------------------------

    def holders(self, roll: list[RollUnit] | None) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for u in roll or ():
            found.setdefault(u.holder, set()).add(u.building)
        return found

    def credential(
        self,
        check: str,
        what: str,
        certificates: Mapping[str, _Certificate],
        revoked: Mapping[str, int],
        fingerprint: str,
        at: dt.datetime,
        log_index: int,
    ) -> _Certificate | None:
        """The certificate a statement names, valid at `at` and not revoked before the
        statement's log entry; None (with the failure) otherwise."""
        certificate = certificates.get(fingerprint)
        if certificate is None:
            self.fail(check, f"{what}: names credential {fingerprint}, not in the record")
            return None
        if not certificate.not_before <= at <= certificate.not_after:
            self.fail(
                check,
                f"{what}: signed at {at:%Y-%m-%dT%H:%M:%SZ}, outside the validity of the "
                f"certificate of card {certificate.card}",
            )
        revoked_at = revoked.get(certificate.card)
        if revoked_at is not None and revoked_at < log_index:
            self.fail(
                check,
                f"{what}: card {certificate.card} was revoked (log entry {revoked_at}) before "
                "it was used",
            )
        return certificate

    # --- 6. proxies ------------------------------------------------------------------------------

    def check_proxies(
        self,
        meeting: MeetingRecord,
        roll: list[RollUnit] | None,
        certificates: Mapping[str, _Certificate],
        revoked: Mapping[str, int],
    ) -> dict[str, _Proxy]:
        records = self.decode(rec.PROXIES, rec.decode_proxies, "proxies") or []
        holders = self.holders(roll)
        found: dict[str, _Proxy] = {}
        events: list[tuple[int, str, _Proxy]] = []
        opens, closes = self.time(meeting.window_opens_at), self.time(meeting.window_closes_at)
        for item in records:
            what = f"proxy at log index {item.log_index}"
            statement_hash = hashlib.sha256(item.statement).hexdigest()
            try:
                statement = parse_proxy_statement(rec.loads(item.statement))
            except (CryptoError, ProxyError) as exc:
                self.fail("proxies", f"{what}: malformed statement: {exc}")
                self.used.add(item.log_index)
                continue
            certificate = self.credential(
                "proxies",
                what,
                certificates,
                revoked,
                statement.credential,
                statement.time,
                item.log_index,
            )
            if certificate is not None:
                task = self.task("proxies", what)
                self.checker.signature((task, certificate.card_key, item.statement, item.signature))
                if statement.owner != certificate.holder:
                    self.fail("proxies", f"{what}: signed by the card of another holder")
            self._statement_context("proxies", what, meeting, statement)
            if not opens <= statement.time < closes:
                self.fail("proxies", f"{what}: signed at {statement.time_text}, outside the window")
            buildings = holders.get(statement.owner, set())
            if not buildings:
                self.fail("proxies", f"{what}: owner {statement.owner} has no unit in the roll")
            choices = {
                m.id: MotionChoices(m.spec.kind, m.spec.options, m.spec.seats)
                for m in meeting.motions
                if m.spec.scope is None or not m.spec.scope.isdisjoint(buildings)
            }
            try:
                instructions = parse_instructions(statement.instructions, choices)
            except ProxyError as exc:
                self.fail("proxies", f"{what}: {exc}")
                instructions = {}
            proxy = _Proxy(item, statement, statement_hash, instructions, item.withdrawn)
            if statement_hash in found:
                self.fail("proxies", f"{what}: the same authorisation is listed twice")
            found[statement_hash] = proxy
            leaf = self.leaf(item.log_index, "proxies", what, "proxy")
            if leaf is not None:
                self.same(
                    "proxies",
                    what,
                    leaf,
                    {
                        "meeting": meeting.id,
                        "owner": statement.owner,
                        "proxy": statement.proxy,
                        "statement": statement_hash,
                        "signature": base64.b64encode(item.signature).decode(),
                    },
                )
                self._in_window("proxies", what, meeting, leaf, statement.time)
            events.append((item.log_index, "grant", proxy))
            if item.withdrawn is not None:
                withdrawal = self.leaf(
                    item.withdrawn, "proxies", f"withdrawal of {what}", "proxy.withdraw"
                )
                if withdrawal is not None:
                    self.same(
                        "proxies",
                        f"withdrawal of {what}",
                        withdrawal,
                        {
                            "meeting": meeting.id,
                            "owner": statement.owner,
                            "proxy": statement.proxy,
                            "statement": statement_hash,
                        },
                    )
                    self._in_window("proxies", f"withdrawal of {what}", meeting, withdrawal, None)
                if item.withdrawn < item.log_index:
                    self.fail("proxies", f"{what}: withdrawn before it was given")
                events.append((item.withdrawn, "withdraw", proxy))
        # One authorisation in force per owner; at most proxy_cap owners per proxy holder.
        active: dict[str, _Proxy] = {}
        held: dict[str, int] = {}
        for index, event, proxy in sorted(events, key=lambda e: e[0]):
            owner, holder = proxy.statement.owner, proxy.statement.proxy
            if event == "grant":
                if owner in active:
                    self.fail(
                        "proxies",
                        f"proxy at log index {index}: owner {owner} already has an "
                        "authorisation in force",
                    )
                active[owner] = proxy
                held[holder] = held.get(holder, 0) + 1
                if held[holder] > meeting.rules.proxy_cap:
                    self.fail(
                        "proxies",
                        f"proxy at log index {index}: {holder} would hold {held[holder]} "
                        f"owners, more than the cap of {meeting.rules.proxy_cap}",
                    )
            elif active.get(owner) is proxy:  # a withdrawal before its grant is reported above
                del active[owner]
                held[holder] -= 1
        if records:
            self.note(f"proxies: {len(records)} authorisation(s)")
        return found

    def _statement_context(
        self, check: str, what: str, meeting: MeetingRecord, statement: ProxyStatement
    ) -> None:
        if statement.platform != meeting.platform:
            self.fail(check, f"{what}: for platform {statement.platform}")
        if statement.area != meeting.area:
            self.fail(check, f"{what}: for area {statement.area}")
        if statement.meeting != meeting.id:
            self.fail(check, f"{what}: for meeting {statement.meeting}")
        if statement.roll != meeting.roll_sha256:
            self.fail(check, f"{what}: names another owner roll")

    def _in_window(
        self,
        check: str,
        what: str,
        meeting: MeetingRecord,
        leaf: Leaf,
        signed: dt.datetime | None,
    ) -> None:
        """The leaf lies between the opening and the close, and after the signing time."""
        log = meeting.log
        if not log.open < leaf.index or (log.close is not None and leaf.index > log.close):
            self.fail(check, f"{what}: logged outside the voting (log entry {leaf.index})")
        if signed is not None and leaf.time < signed:
            self.fail(check, f"{what}: logged at {leaf.time_text}, before it was signed")

    # --- 7. ballots ------------------------------------------------------------------------------

    def read_ballots(
        self, certificates: Mapping[str, _Certificate]
    ) -> list[tuple[BallotRecord, BallotStatement, _Certificate | None]]:
        """Read every ballot statement and queue its signature against the card key of the
        certificate it names; a statement that cannot be read is a failure here."""
        records: list[BallotRecord] = self.decode(rec.BALLOTS, rec.decode_ballots, "ballots") or []
        found: list[tuple[BallotRecord, BallotStatement, _Certificate | None]] = []
        submit = self.checker.signature
        tasks = self.tasks
        times = self.times
        for item in records:
            self.used.add(item.log_index)
            try:
                st = read_ballot(item.statement, times)
            except (CryptoError, BallotError) as exc:
                self.fail(
                    "ballots", f"ballot at log index {item.log_index}: malformed statement: {exc}"
                )
                continue
            certificate = certificates.get(st.credential)
            if certificate is not None:
                tasks.append(("ballots", item.log_index))
                submit((len(tasks) - 1, certificate.card_key, item.statement, item.signature))
            found.append((item, st, certificate))
        self.ballot_count = len(records)
        return found

    def check_ballots(
        self,
        meeting: MeetingRecord,
        roll: list[RollUnit] | None,
        certificates: Mapping[str, _Certificate],
        revoked: Mapping[str, int],
        proxies: Mapping[str, _Proxy],
        ballots: list[tuple[BallotRecord, BallotStatement, _Certificate | None]],
    ) -> list[_Vote]:
        """Every ballot read by `read_ballots`: credential, context, choice, window, voter,
        scope, nonce and log leaf.

        The hot loop of a large record: the common case runs straight through with local
        names and no message text; any doubt takes `_ballot_faults`, which names each fault.
        """
        holders = self.holders(roll)
        motions = {m.id: m for m in meeting.motions}
        choices: dict[tuple[int, Any], Choice] = {}
        opens, closes = self.time(meeting.window_opens_at), self.time(meeting.window_closes_at)
        log = meeting.log
        after = log.open
        before = log.close if log.close is not None else 2**63
        nonces: set[str] = set()
        votes: list[_Vote] = []
        context = (meeting.platform, meeting.area, meeting.id, meeting.roll_sha256)
        area = meeting.area
        b64 = base64.b64encode
        sha256 = hashlib.sha256
        leaves = self.leaves
        times = self.times
        for item, st, certificate in ballots:
            index = item.log_index
            motion = motions.get(st.motion)
            choice: Choice | None = None
            if motion is not None:
                raw = st.choice
                key = (st.motion, tuple(raw) if type(raw) is list else raw)
                choice = choices.get(key)
                if choice is None:
                    with suppress(BallotError):
                        choice = choices[key] = parse_choice(
                            motion.spec.kind, motion.spec.options, motion.spec.seats, raw
                        )
            buildings = holders.get(st.voter)
            scope = None if motion is None else motion.spec.scope
            entry = leaves.get(index)
            ballot_hash = sha256(item.statement).hexdigest()
            signature = b64(item.signature).decode()
            leaf_time = (
                None
                if entry is None
                else ballot_leaf_time(
                    entry,
                    area=area,
                    seq=index,
                    meeting=st.meeting,
                    motion=st.motion,
                    voter=st.voter,
                    ballot=ballot_hash,
                    signature=signature,
                    proxy=st.proxy,
                )
            )
            if (
                certificate is not None
                and certificate.card not in revoked
                and certificate.not_before <= st.time <= certificate.not_after
                and (st.platform, st.area, st.meeting, st.roll) == context
                and choice is not None
                and opens <= st.time < closes
                and st.proxy is None
                and st.voter == certificate.holder
                and buildings
                and (scope is None or not scope.isdisjoint(buildings))
                and st.nonce not in nonces
                and leaf_time is not None
                and after < index < before
                and st.time_text <= leaf_time
                and opens <= (times.get(leaf_time) or self.time(leaf_time)) < closes
            ):
                nonces.add(st.nonce)
                votes.append(
                    _Vote(index, st.voter, st.motion, choice, True, item.counted, ballot_hash)
                )
                continue
            # Something to look at more closely: a proxy ballot, a revoked card, or a fault.
            self.ballot_names[index] = (
                f"ballot at log index {index} (voter {st.voter}, motion {st.motion})"
            )
            good = self._ballot_faults(
                meeting,
                item,
                st,
                certificates,
                revoked,
                proxies,
                choice,
                buildings,
                scope,
                nonces,
                ballot_hash,
                signature,
                leaf_time,
            )
            nonces.add(st.nonce)
            if good and choice is not None:
                votes.append(
                    _Vote(
                        index,
                        st.voter,
                        st.motion,
                        choice,
                        st.proxy is None,
                        item.counted,
                        ballot_hash,
                    )
                )
            elif item.counted:
                self.fail("counting", f"{self.ballot_names[index]}: counted although not valid")
        self.note(f"ballots: {self.ballot_count} signed ballot(s), {len(votes)} valid")
        return votes

    def _ballot_faults(
        self,
        meeting: MeetingRecord,
        item: BallotRecord,
        st: BallotStatement,
        certificates: Mapping[str, _Certificate],
        revoked: Mapping[str, int],
        proxies: Mapping[str, _Proxy],
        choice: Choice | None,
        buildings: set[str] | None,
        scope: frozenset[str] | None,
        nonces: set[str],
        ballot_hash: str,
        signature: str,
        leaf_time: str | None,
    ) -> bool:
        """Check one ballot again, naming every fault; True if it has none (a valid proxy
        ballot, or one whose card was revoked after it)."""
        index = item.log_index
        what = self.ballot_names[index]
        before = len(self.report.failures)
        certificate = self.credential(
            "ballots", what, certificates, revoked, st.credential, st.time, index
        )
        self._ballot_context(what, meeting, st)
        motion = meeting.motion(st.motion)
        if motion is None:
            self.fail("ballots", f"{what}: motion {st.motion} is not on the agenda")
        elif choice is None:
            try:
                parse_choice(motion.spec.kind, motion.spec.options, motion.spec.seats, st.choice)
            except BallotError as exc:
                self.fail("ballots", f"{what}: {exc}")
        opens, closes = self.time(meeting.window_opens_at), self.time(meeting.window_closes_at)
        if not opens <= st.time < closes:
            self.fail("ballots", f"{what}: signed at {st.time_text}, outside the window")
        if st.proxy is None:
            if certificate is not None and st.voter != certificate.holder:
                self.fail("ballots", f"{what}: signed by the card of another holder")
        else:
            self._proxy_ballot(what, st, certificate, proxies, choice, index)
        if not buildings or (scope is not None and scope.isdisjoint(buildings)):
            self.fail("ballots", f"{what}: the voter has no unit in the motion's scope")
        if st.nonce in nonces:
            self.fail("ballots", f"{what}: its nonce was used by an earlier ballot")
        if leaf_time is None:
            self._ballot_leaf(what, index, st, ballot_hash, signature)
        else:
            log = meeting.log
            close = log.close if log.close is not None else 2**63
            if not (
                log.open < index < close
                and st.time_text <= leaf_time
                and opens <= self.time(leaf_time) < closes
            ):
                self.fail("ballots", f"{what}: logged at {leaf_time}, outside the voting")
        return len(self.report.failures) == before

    def _ballot_context(self, what: str, meeting: MeetingRecord, st: BallotStatement) -> None:
        for name, value, expected in (
            ("platform", st.platform, meeting.platform),
            ("area", st.area, meeting.area),
            ("meeting", st.meeting, meeting.id),
            ("roll", st.roll, meeting.roll_sha256),
        ):
            if value != expected:
                self.fail("ballots", f"{what}: names {name} {value!r}, expected {expected!r}")

    def _proxy_ballot(
        self,
        what: str,
        st: BallotStatement,
        certificate: _Certificate | None,
        proxies: Mapping[str, _Proxy],
        choice: Choice | None,
        index: int,
    ) -> bool:
        assert st.proxy is not None
        proxy = proxies.get(st.proxy)
        if proxy is None:
            self.fail("ballots", f"{what}: names authorisation {st.proxy}, not in the record")
            return False
        good = True
        if proxy.statement.owner != st.voter:
            self.fail("ballots", f"{what}: the authorisation is from owner {proxy.statement.owner}")
            good = False
        if certificate is not None and certificate.holder != proxy.statement.proxy:
            self.fail(
                "ballots",
                f"{what}: signed by {certificate.holder}, but the authorisation names "
                f"{proxy.statement.proxy}",
            )
            good = False
        if proxy.record.log_index > index:
            self.fail("ballots", f"{what}: cast before the authorisation was given")
            good = False
        if proxy.withdrawn is not None:
            self.fail("ballots", f"{what}: cast under a withdrawn authorisation")
            good = False
        instructed = proxy.instructions.get(st.motion)
        if instructed is not None and choice is not None and instructed != choice:
            self.fail("ballots", f"{what}: the owner instructed the proxy to vote otherwise")
            good = False
        proxy.ballots += 1
        return good

    def _ballot_leaf(
        self, what: str, index: int, st: BallotStatement, ballot_hash: str, signature: str
    ) -> bool:
        leaf = self.leaf(index, "ballots", what, "ballot")
        if leaf is None:
            return False
        good = self.same(
            "ballots",
            what,
            leaf,
            {
                "meeting": st.meeting,
                "motion": st.motion,
                "voter": st.voter,
                "ballot": ballot_hash,
                "signature": signature,
                "proxy": st.proxy,
            },
        )
        if set(leaf.data) != {"meeting", "motion", "voter", "ballot", "signature", "proxy"}:
            self.fail("ballots", f"{what}: log entry {index} has other members")
            good = False
        before = len(self.report.failures)
        self._in_window("ballots", what, self.meeting, leaf, st.time)
        return good and len(self.report.failures) == before

    # --- 8. paper ----------------------------------------------------------------------------

    def check_paper(
        self, meeting: MeetingRecord, roll: list[RollUnit] | None
    ) -> dict[str, dict[int, Choice]]:
        """Replay every voter's double entry; the choices of the sheets that count."""
        records = self.decode(rec.PAPER, rec.decode_paper, "paper") or []
        holders = self.holders(roll)
        motions = {m.id: m for m in meeting.motions}
        sheets: dict[str, _Sheet] = {}
        for item in records:
            what = f"paper {item.kind} at log index {item.log_index}"
            if item.kind not in ("paper.entry", "paper.resolve"):
                self.fail("paper", f"{what}: not a paper entry or resolution")
                continue
            leaf = self.leaf(item.log_index, "paper", what, item.kind)
            if leaf is None:
                continue
            self._in_window("paper", what, meeting, leaf, None)
            data = leaf.data
            voter = data.get("voter")
            if data.get("meeting") != meeting.id or not isinstance(voter, str):
                self.fail("paper", f"{what}: for another meeting or without a voter")
                continue
            sheet = sheets.setdefault(voter, _Sheet())
            try:
                if item.kind == "paper.entry":
                    sheet.enter(data, holders.get(voter, set()), motions)
                else:
                    sheet.resolve(data)
            except (PaperError, BallotError, _PaperFault) as exc:
                self.fail("paper", f"{what} (voter {voter}): {exc}")
        counted = {voter: s.counted() for voter, s in sheets.items() if s.counted()}
        if records:
            self.note(f"paper: {len(sheets)} sheet(s), {len(counted)} counting")
        return counted

    # --- 9. counting and results ---------------------------------------------------------------

    def check_counting(
        self, meeting: MeetingRecord, votes: list[_Vote]
    ) -> dict[tuple[int, str], _Vote]:
        """Apply the one-counted-ballot rule in log order; compare with what was counted."""
        allow_change = meeting.rules.allow_vote_change
        counted: dict[tuple[int, str], _Vote] = {}
        for vote in votes:
            key = (vote.motion, vote.voter)
            current = counted.get(key)
            what = (
                f"ballot at log index {vote.log_index} (voter {vote.voter}, motion {vote.motion})"
            )
            if current is None:
                counted[key] = vote
            elif current.in_person and not vote.in_person:
                self.fail("counting", f"{what}: a proxy ballot after the owner's own ballot")
            elif (vote.in_person and not current.in_person) or allow_change:
                counted[key] = vote
            else:
                self.fail(
                    "counting",
                    f"{what}: a second ballot, but the rules of procedure do not allow "
                    "changing a vote",
                )
        chosen = {vote.log_index for vote in counted.values()}
        for vote in votes:
            if vote.counted != (vote.log_index in chosen):
                self.fail(
                    "counting",
                    f"ballot at log index {vote.log_index} (voter {vote.voter}, motion "
                    f"{vote.motion}): the platform "
                    f"{'counted' if vote.counted else 'did not count'} it, the rules "
                    f"{'count' if vote.log_index in chosen else 'do not count'} it",
                )
        return counted

    def check_results(
        self,
        meeting: MeetingRecord,
        roll: list[RollUnit] | None,
        counted: Mapping[tuple[int, str], _Vote],
        paper: Mapping[str, dict[int, Choice]],
    ) -> None:
        """Recount every motion and rebuild its result document; the published one must be
        that document, and the "tally" entry must log its hash."""
        published = {
            r.motion: r for r in self.decode(rec.RESULTS, rec.decode_results, "results") or []
        }
        for motion_id in sorted(set(published) - {m.id for m in meeting.motions}):
            self.fail("results", f"result of motion {motion_id}, which is not on the agenda")
        if roll is None:
            return
        parking = meeting.rules.parking_counts
        units = [
            UnitShare(f"{u.building}/{u.unit}", u.building, u.area_centi, u.holder, u.developer)
            for u in roll
            if parking or not u.parking
        ]
        electronic: dict[int, list[tuple[str, Choice, str]]] = {m.id: [] for m in meeting.motions}
        for (motion_id, voter), vote in counted.items():
            electronic.setdefault(motion_id, []).append((voter, vote.choice, vote.hash))
        for motion in meeting.motions:
            what = f"result of motion {motion.id}"
            record = published.get(motion.id)
            leaf = None
            if record is None:
                self.fail("results", f"motion {motion.id}: no published result")
            else:
                leaf = self.leaf(record.log_index, "results", what, "tally")
            voters = {ref for ref, _c, _h in electronic[motion.id]}
            counted_paper = [
                (voter, choices[motion.id])
                for voter, choices in sorted(paper.items())
                if motion.id in choices and voter not in voters
            ]
            document, result = result_document(
                meeting=meeting.id,
                motion=motion.id,
                position=motion.position,
                spec=motion.spec,
                parking_counts=parking,
                units=units,
                counted=CountedInput(electronic[motion.id], counted_paper),
                roll_sha256=meeting.roll_sha256,
                tallied_at=leaf.time_text if leaf is not None else str(meeting.closed_at),
            )
            described = (
                _describe(result) if isinstance(result, TallyResult) else f"not counted: {result}"
            )
            self.note(f"motion {motion.position} (id {motion.id}): {described}")
            if record is None:
                continue
            for name in sorted(set(document) | set(record.result)):
                value, expected = record.result.get(name, _MISSING), document.get(name, _MISSING)
                if value != expected:
                    self.fail(
                        "results",
                        f"{what}: published {name} is {_short(value)}, "
                        f"the recount gives {_short(expected)}",
                    )
            if leaf is not None:
                digest = hashlib.sha256(record.data).hexdigest()
                self.same(
                    "results",
                    what,
                    leaf,
                    {"meeting": meeting.id, "motion": motion.id, "result_sha256": digest},
                )
                close = meeting.log.close if meeting.log.close is not None else -1
                if not meeting.log.open < leaf.index < close:
                    self.fail(
                        "results", f"{what}: tallied outside the close (log entry {leaf.index})"
                    )

    # --- 10. leaves and signatures ---------------------------------------------------------------

    def check_unused(self) -> None:
        for index in sorted(set(self.leaves) - self.used):
            self.fail("log", f"{rec.LEAVES}: log entry {index} is not used by the record")

    def collect_signatures(self) -> None:
        for task_id, reason in self.checker.failures():
            check, what = self.tasks[task_id]
            if isinstance(what, int):
                what = self.ballot_names.get(what, f"ballot at log index {what}")
            self.fail(check, f"{what}: {reason}")


_MISSING = object()


class _PaperFault(ValueError):
    pass


class _Sheet:
    """One voter's paper sheet, replayed from its log entries (voting.domain.paper)."""

    def __init__(self) -> None:
        self.status: SheetStatus | None = None
        self.round = 1
        self.entries: list[dict[str, Any]] = []
        self.accepted: int | None = None

    def enter(
        self, data: Mapping[str, Any], buildings: set[str], motions: Mapping[int, Any]
    ) -> None:
        if data.get("round") != self.round:
            raise _PaperFault(f"round {data.get('round')}, expected round {self.round}")
        by = data.get("by")
        if not isinstance(by, int):
            raise _PaperFault("the entry names no staff member")
        position = check_entry(self.status, [e["by"] for e in self.entries], by)
        if data.get("entry") != position:
            raise _PaperFault(f"entry {data.get('entry')}, expected entry {position}")
        choices = data.get("choices")
        if not isinstance(choices, dict) or not choices:
            raise _PaperFault("no choices")
        if not buildings:
            raise _PaperFault("the voter has no unit in the roll")
        texts: dict[int, str] = {}
        for key, value in choices.items():
            motion = motions.get(int(key)) if str(key).isdigit() else None
            if motion is None:
                raise _PaperFault(f"motion {key} is not on the agenda")
            scope = motion.spec.scope
            if scope is not None and scope.isdisjoint(buildings):
                raise _PaperFault(f"the voter has no unit in the scope of motion {key}")
            parse_choice(motion.spec.kind, motion.spec.options, motion.spec.seats, value)
            texts[int(key)] = rec.dumps(value).decode()
        entry = {"by": by, "choices": choices, "texts": texts, "image": data.get("image")}
        self.entries.append(entry)
        if position == 1:
            status = SheetStatus.pending
        else:
            first = self.entries[0]
            comparison = compare_entries(
                first["texts"], str(first["image"]), texts, str(entry["image"])
            )
            status = SheetStatus.matched if comparison.matches else SheetStatus.mismatch
        if data.get("status") != status.value:
            raise _PaperFault(f"status {data.get('status')!r}, the entries make it {status.value}")
        self.status = status
        self.accepted = 1 if status is SheetStatus.matched else None

    def resolve(self, data: Mapping[str, Any]) -> None:
        if data.get("round") != self.round:
            raise _PaperFault(f"round {data.get('round')}, expected round {self.round}")
        by = data.get("by")
        try:
            decision = Decision(str(data.get("decision")))
        except ValueError:
            raise _PaperFault(f"unknown decision {data.get('decision')!r}") from None
        if not isinstance(by, int):
            raise _PaperFault("the resolution names no staff member")
        check_resolution(self.status, [e["by"] for e in self.entries], by, decision)
        if decision is Decision.discard:
            if data.get("image") is not None:
                raise _PaperFault("a discard names an image")
            self.status = SheetStatus.discarded
            self.round += 1
            self.entries = []
            self.accepted = None
            return
        chosen = 1 if decision is Decision.first else 2
        if data.get("image") != self.entries[chosen - 1]["image"]:
            raise _PaperFault("the resolution names another image than the chosen entry's")
        self.status = SheetStatus.resolved
        self.accepted = chosen

    def counted(self) -> dict[int, Choice]:
        if self.status not in COUNTING or self.accepted is None:
            return {}
        choices = self.entries[self.accepted - 1]["choices"]
        return {
            int(key): frozenset(value) if isinstance(value, list) else value
            for key, value in choices.items()
        }


def _short(value: object) -> str:
    if value is _MISSING:
        return "missing"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


def _describe(result: TallyResult) -> str:
    parts = [
        f"{result.outcome.value}",
        f"participation {result.participating_headcount}/{result.total_headcount} holders",
    ]
    if result.winner:
        parts.append(f"winner {result.winner}")
    if result.elected:
        parts.append("elected " + ", ".join(result.elected))
    return "; ".join(parts)


def verify_record(
    files: Mapping[str, bytes],
    *,
    log_key: bytes | None = None,
    checker: SignatureChecker | None = None,
) -> Report:
    """Verify an election record given as {file name: bytes}; see the module docstring."""
    return _Verifier(files, log_key, checker or SignatureChecker()).run()


def first_lines(failures: Iterable[Failure], limit: int) -> tuple[list[Failure], int]:
    """At most `limit` failures of each check, and how many were left out."""
    shown: list[Failure] = []
    per_check: dict[str, int] = {}
    left = 0
    for failure in failures:
        count = per_check.get(failure.check, 0)
        if count < limit:
            shown.append(failure)
        else:
            left += 1
        per_check[failure.check] = count + 1
    return shown, left
