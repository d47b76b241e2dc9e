"""Integrity: the hash chain over the stream, signed checkpoints, no missing message, and a
stream configured append-only (deny delete, deny purge).

Without a reference the chain can only be compared with the signed ``AuditCheckpoint`` events:
a mismatch proves that some message up to the checkpoint was altered, between the last good
checkpoint and this one. With a reference chain (an earlier export bundle) the exact first
altered sequence is named.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from fw_audit.chain import Chain, signature_valid
from fw_audit.checks import Seen
from fw_audit.model import CheckResult, Record
from fw_contracts.events import AuditCheckpoint

#: How many stored copies the notes name one by one.
SHOW_COPIES = 10

NAME = "integrity"
TITLE = "Hash chain, signed checkpoints, append-only stream"


class IntegrityCheck:
    """Recomputes the chain message by message and verifies every checkpoint met on the way."""

    def __init__(self, *, trusted_keys: frozenset[str] = frozenset(),
                 reference: Mapping[int, bytes] | None = None, reference_name: str = "",
                 stream_config: Mapping[str, object] | None = None, config_source: str = "live stream",
                 start_seq: int = 1) -> None:
        self.chain = Chain()
        self.trusted_keys = trusted_keys
        self.reference = reference
        self.reference_name = reference_name
        self.stream_config = stream_config
        self.config_source = config_source
        self.res = CheckResult(NAME, TITLE)
        #: heads[i] is the chain value after the message with sequence ``start_seq + i``.
        self._heads: list[bytes] = []
        self._start = start_seq
        self._expected = start_seq
        self._reference_broken = False
        self._last_good_checkpoint = 0
        #: The stream sequence of the last good checkpoint message itself (0: none).
        self._last_good_at = 0
        self._checkpoints = 0
        #: ``(first seq, seq of the copy)`` of every message stored again with the same content.
        self.copies: list[tuple[int, int]] = []

    @property
    def head_hex(self) -> str:
        return self.chain.head.hex()

    def head_at(self, seq: int) -> bytes | None:
        """The chain value after message ``seq`` (None if not read)."""
        i = seq - self._start
        return self._heads[i] if 0 <= i < len(self._heads) else None

    def feed_record(self, record: Record) -> None:
        """Extend the chain by one raw message (in sequence order)."""
        self.res.checked += 1
        if record.seq != self._expected:
            if record.seq > self._expected:
                missing = (str(self._expected) if record.seq == self._expected + 1
                           else f"{self._expected}..{record.seq - 1}")
                self.res.fail(f"message(s) {missing} missing from the stream (deleted or purged)", record.seq)
                self._heads.extend([b""] * (record.seq - self._expected))
            else:
                self.res.fail(f"sequence {record.seq} out of order (expected {self._expected})", record.seq)
                return
        head = self.chain.add(record.seq, record.subject, record.body)
        self._heads.append(head)
        self._expected = record.seq + 1
        if self.reference is not None and not self._reference_broken:
            ref = self.reference.get(record.seq)
            if ref is not None and ref != head:
                self._reference_broken = True  # every later value differs too: report the first only
                self.res.fail(f"chain differs from the reference {self.reference_name} from this message on: "
                              "the message was altered or replaced", record.seq, subject=record.subject)

    def stored_again(self, event_id: int, first_seq: int, seq: int, *, same: bool) -> None:
        """The event id of the message at ``seq`` was met at ``first_seq``: a copy (``same``
        content: the relay published it again after the duplicate window; noted) or another
        message under a used id (a failure: consumers drop it, unseen by anyone)."""
        if same:
            self.copies.append((first_seq, seq))
            return
        self.res.fail(f"the event id of seq {first_seq} is used again at seq {seq} with other content: "
                      "every consumer drops that message as a duplicate", seq, first_seq,
                      event_id=uuid.UUID(int=event_id))

    def feed(self, seen: Seen) -> None:
        """Verify a checkpoint event (its chain value is known: it covers earlier messages)."""
        e = seen.event
        if not isinstance(e, AuditCheckpoint):
            return
        self._checkpoints += 1
        c = e.checkpoint_seq
        if c >= seen.seq:
            self.res.fail(f"checkpoint covers seq {c}, not before its own seq {seen.seq}", seen.seq,
                          checkpoint_event_id=e.event_id)
            return
        if not signature_valid(e.public_key, e.signature, c, e.chain_hash):
            self.res.fail("checkpoint signature invalid", seen.seq, checkpoint_event_id=e.event_id)
            return
        if self.trusted_keys and e.public_key not in self.trusted_keys:
            self.res.fail(f"checkpoint signed by an untrusted key {e.public_key[:16]}…", seen.seq,
                          checkpoint_event_id=e.event_id)
            return
        head = self.head_at(c) if c >= self._start else None
        if c == 0 or head is None:
            if c != 0:
                self.res.notes.append(f"checkpoint at seq {seen.seq} covers seq {c}, before this replay")
            return
        if head.hex() != e.chain_hash:
            lo = self._last_good_checkpoint + 1
            self.res.fail(f"chain hash at seq {c} does not match the signed checkpoint at seq {seen.seq}: "
                          f"a message in seqs {lo}..{c} was altered", c, seen.seq,
                          checkpoint_event_id=e.event_id)
        elif c >= self._last_good_checkpoint:
            self._last_good_checkpoint = c
            self._last_good_at = seen.seq

    def result(self) -> CheckResult:
        """The verdict, including the stream configuration."""
        cfg = self.stream_config
        if cfg is None:
            self.res.fail("stream configuration unknown: deny_delete/deny_purge cannot be proven")
        else:
            for flag in ("deny_delete", "deny_purge"):
                if cfg.get(flag) is not True:
                    self.res.fail(f"stream configuration ({self.config_source}): {flag} is not set")
        self.res.notes.append(f"chain over {self.res.checked} messages, head {self.head_hex}")
        self.res.notes.append(f"{self._checkpoints} signed checkpoints verified, last good covers seq "
                              f"{self._last_good_checkpoint}"
                              + (f" (the checkpoint at seq {self._last_good_at})" if self._last_good_at else ""))
        if self._checkpoints == 0:
            self.res.notes.append("no checkpoint in the history: without a signed checkpoint or a reference "
                                  "the chain alone cannot detect a rewritten history")
        if self._checkpoints and not self.trusted_keys:
            self.res.notes.append("checkpoint keys not pinned (--public-key): signatures prove consistency, "
                                  "not who signed")
        if self.copies:
            shown = ", ".join(f"seq {seq} = seq {first}" for first, seq in self.copies[:SHOW_COPIES])
            more = f" and {len(self.copies) - SHOW_COPIES} more" if len(self.copies) > SHOW_COPIES else ""
            self.res.notes.append(f"{len(self.copies)} messages stored twice with the same event id and content "
                                  f"({shown}{more}): published again after the stream's duplicate window; "
                                  "the copies are left out of the other checks, as every consumer drops them")
        if self.reference is not None:
            self.res.notes.append(f"compared with the reference chain of {self.reference_name} "
                                  f"({len(self.reference)} messages)")
        if cfg is not None:
            self.res.notes.append(f"deny_delete={cfg.get('deny_delete')} deny_purge={cfg.get('deny_purge')} "
                                  f"({self.config_source})")
        return self.res
