"""The audit's header parser gives exactly what nats-py's own gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from fw_audit.headers import install, parse_header_lines

DIRECT_GET = (b"Nats-Msg-Id: 7e1bcb5c-a3bc-4865-a1df-7614899be854\r\nFw-Event-Type: SupportRequestCreated\r\n"
              b"Nats-Stream: FERNWARTUNG\r\nNats-Subject: fw.intake.support_request_created.v1\r\nNats-Sequence: 1\r\n"
              b"Nats-Time-Stamp: 2026-12-02T08:04:07.067401267Z\r\nNats-Num-Pending: 20286\r\n"
              b"Nats-Last-Sequence: 0\r\n\r\n")


def test_a_direct_get_reply() -> None:
    assert parse_header_lines(DIRECT_GET) == Client._parse_header_lines(DIRECT_GET)
    assert parse_header_lines(DIRECT_GET)["Nats-Sequence"] == "1"


def test_every_ascii_and_some_unicode_character_in_a_name_and_a_value() -> None:
    for code in [*range(128), 0x85, 0xA0, 0x2028, 0x3000, 0xFEFF]:
        ch = chr(code).encode("utf-8")
        for block in (b"A" + ch + b"B: v\r\n", ch + b"Name: v\r\n", b"Name" + ch + b": v" + ch + b"\r\n",
                      b"Name:" + ch + b"v\r\n", b"X: 1\r\n" + ch + b"\r\nY: 2\r\n"):
            assert parse_header_lines(block) == Client._parse_header_lines(block), block


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=12) | st.text(max_size=12).map(str.encode),
                          st.sampled_from([b":", b": ", b"", b"::", b":\t"]),
                          st.binary(max_size=20) | st.text(max_size=20).map(str.encode)), max_size=8))
def test_generated_header_blocks(lines: list[tuple[bytes, bytes, bytes]]) -> None:
    block = b"\r\n".join(n + s + v for n, s, v in lines) + b"\r\n\r\n"
    assert parse_header_lines(block) == Client._parse_header_lines(block)


def test_installed_on_one_client_only() -> None:
    ours, other = Client(), Client()
    assert install(ours)
    assert ours._parse_header_lines is parse_header_lines
    assert other._parse_header_lines is not parse_header_lines


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.from_regex(rb"[0-9A-Za-z!#$%&'*+.^_`|~ -]{0,10}", fullmatch=True),
                          st.sampled_from([b":", b": ", b":  ", b": \t"]),
                          st.from_regex(rb"[ -~]{0,12}", fullmatch=True)), max_size=8),
       st.sampled_from([b"\r\n", b"\r\n\r\n", b""]))
def test_generated_token_blocks(lines: list[tuple[bytes, bytes, bytes]], tail: bytes) -> None:
    """Blocks close to the usual form (token names, printable values, spaces around them)."""
    block = b"".join(n + s + v + b"\r\n" for n, s, v in lines) + tail
    assert parse_header_lines(block) == Client._parse_header_lines(block)
