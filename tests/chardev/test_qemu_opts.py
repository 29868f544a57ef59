"""QemuOpts option strings (pyqemu.cli.qemu_opts): splitting, escapes, implied keys and value parsers."""

from __future__ import annotations

import pytest

from pyqemu.cli.qemu_opts import OptsError, check_id, parse_bool, parse_number, parse_opts, parse_size


def test_key_value_pairs() -> None:
    assert parse_opts("a=1,b=two") == {"a": "1", "b": "two"}
    assert parse_opts("") == {}


def test_implied_key() -> None:
    assert parse_opts("virtio-blk-device,drive=d0", implied_key="driver") == {
        "driver": "virtio-blk-device", "drive": "d0"}
    assert parse_opts("virt,dumpdtb=x", implied_key="type") == {"type": "virt", "dumpdtb": "x"}
    # an explicit key=value first item is not the implied value
    assert parse_opts("type=virt", implied_key="type") == {"type": "virt"}
    assert parse_opts("drive=d0", implied_key="driver") == {"drive": "d0"}


def test_escaped_comma() -> None:
    assert parse_opts("file=a,,b.img,if=none") == {"file": "a,b.img", "if": "none"}
    assert parse_opts("x=,,,y=1") == {"x": ",", "y": "1"}
    assert parse_opts("a,,b,c=d", implied_key="path") == {"path": "a,b", "c": "d"}
    # with an implied key, a first item holding ",," and later an '=' is still the implied value
    assert parse_opts("a,,b=c", implied_key="path") == {"path": "a,b=c"}


def test_bare_flags() -> None:
    assert parse_opts("server,nowait") == {"server": "on", "wait": "off"}
    assert parse_opts("socket,id=c,server,nodelay", implied_key="backend") == {
        "backend": "socket", "id": "c", "server": "on", "delay": "off"}
    assert parse_opts("no") == {"no": "on"}


def test_equals_in_value_and_last_wins() -> None:
    assert parse_opts("append=console=ttyS0 root=/dev/vda") == {"append": "console=ttyS0 root=/dev/vda"}
    assert parse_opts("a=1,a=2") == {"a": "2"}


def test_empty_items_and_empty_values() -> None:
    assert parse_opts("a=1,") == {"a": "1"}
    assert parse_opts("a=,b=2") == {"a": "", "b": "2"}
    with pytest.raises(OptsError, match="Invalid parameter ''"):
        parse_opts("=x")


@pytest.mark.parametrize("value,expected", [
    ("on", True), ("yes", True), ("true", True), ("off", False), ("no", False), ("false", False)])
def test_parse_bool(value: str, expected: bool) -> None:
    assert parse_bool("x", value) is expected


def test_parse_bool_error() -> None:
    with pytest.raises(OptsError) as exc:
        parse_bool("server", "maybe")
    assert str(exc.value) == "Parameter 'server' expects 'on' or 'off'"


@pytest.mark.parametrize("value,expected", [
    ("0", 0), ("512", 512), ("1k", 1024), ("1K", 1024), ("2M", 2 << 20), ("3G", 3 << 30),
    ("1T", 1 << 40), ("1P", 1 << 50), ("1E", 1 << 60), ("7B", 7), ("1.5G", 3 << 29), ("0x10", 16),
    ("128m", 128 << 20)])
def test_parse_size(value: str, expected: int) -> None:
    assert parse_size("size", value) == expected


@pytest.mark.parametrize("value", ["", "-1", "abc", "1X", "1.5", "12kb", " "])
def test_parse_size_errors(value: str) -> None:
    with pytest.raises(OptsError) as exc:
        parse_size("size", value)
    assert str(exc.value) == "Parameter 'size' expects a non-negative number below 2^64"
    assert exc.value.hint and "suffix" in exc.value.hint


def test_parse_size_out_of_range() -> None:
    with pytest.raises(OptsError, match="Value '16E' is out of range for parameter 'size'"):
        parse_size("size", "16E")
    assert parse_size("size", str((1 << 64) - 1)) == (1 << 64) - 1


def test_parse_number() -> None:
    assert parse_number("n", "42") == 42
    assert parse_number("n", "0x1f") == 31
    assert parse_number("n", "010") == 8
    with pytest.raises(OptsError, match="Parameter 'n' expects a number"):
        parse_number("n", "4k")


def test_check_id() -> None:
    assert check_id("serial0") == "serial0"
    assert check_id("a.b-c_d") == "a.b-c_d"
    for bad in ("0abc", "", "a b", "-x"):
        with pytest.raises(OptsError, match="Parameter 'id' expects an identifier"):
            check_id(bad)
