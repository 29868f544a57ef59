"""Tests of the ACPI tables (``pyqemu.hw.acpi``): AML encodings against hand-assembled byte strings
(ACPI 6.x chapter 20), each table's header, checksum, length and field offsets (chapter 5), the guest-memory
layout, and -- when Debian's acpica-tools is installed -- ``iasl -d`` decoding every table cleanly and
``acpiexec`` evaluating the DSDT's objects. Without the tools those tests skip with the reason.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pyqemu.hw.acpi import aml
from pyqemu.hw.acpi.tables import (
    FADT_FLAGS,
    FADT_LEN,
    ICH9_PM,
    PIIX4_PM,
    S5_PM1_CNT_WRITE,
    S5_SLP_TYP,
    AcpiTables,
    PmConfig,
    build_acpi,
    build_dsdt,
    build_madt,
    build_rsdp,
    fadt_offsets,
    sums_to_zero,
)

# -- AML ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body_len, encoded",
    [
        (0, b"\x01"),
        (62, b"\x3f"),  # 63 in one byte: the largest 1-byte length
        (63, b"\x41\x04"),  # 65 = 0x041 in two bytes
        (4093, b"\x4f\xff"),  # 4095: the largest 2-byte length
        (4094, b"\x81\x00\x01"),  # 4097 = 0x1001 in three bytes
        ((1 << 20) - 4, b"\x8f\xff\xff"),  # 0xFFFFF: the largest 3-byte length
        ((1 << 20) - 3, b"\xc1\x00\x00\x01"),  # 0x100001 in four bytes
    ],
)
def test_pkg_length_boundaries(body_len: int, encoded: bytes) -> None:
    assert aml.pkg_length(body_len) == encoded


def test_pkg_length_too_long() -> None:
    with pytest.raises(ValueError):
        aml.pkg_length(1 << 28)


@pytest.mark.parametrize(
    "path, encoded",
    [
        ("_S5", b"_S5_"),
        ("PWRB", b"PWRB"),
        ("\\_SB", b"\\_SB_"),
        ("\\_SB.PWRB", b"\\\x2e_SB_PWRB"),
        ("\\_SB.PCI0.ISA", b"\\\x2f\x03_SB_PCI0ISA_"),
        ("^^FOO", b"^^FOO_"),
        ("\\", b"\\\x00"),
    ],
)
def test_name_strings(path: str, encoded: bytes) -> None:
    assert aml.name_string(path) == encoded


@pytest.mark.parametrize("bad", ["TOOLONG", "1ABC", "a_b", "\\_SB.", "AB-C"])
def test_bad_names(bad: str) -> None:
    with pytest.raises(ValueError):
        aml.name_string(bad)


@pytest.mark.parametrize(
    "value, encoded",
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (2, b"\x0a\x02"),
        (0xFF, b"\x0a\xff"),
        (0x100, b"\x0b\x00\x01"),
        (0x12345678, b"\x0c\x78\x56\x34\x12"),
        (1 << 32, b"\x0e\x00\x00\x00\x00\x01\x00\x00\x00"),
    ],
)
def test_integers(value: int, encoded: bytes) -> None:
    assert aml.integer(value) == encoded


def test_constants_and_strings() -> None:
    assert aml.zero() == b"\x00" and aml.one() == b"\x01" and aml.ones() == b"\xff"
    assert aml.byte_const(1) == b"\x0a\x01"
    assert aml.word_const(1) == b"\x0b\x01\x00"
    assert aml.dword_const(1) == b"\x0c\x01\x00\x00\x00"
    assert aml.qword_const(1) == b"\x0e\x01" + b"\x00" * 7
    assert aml.string("ab") == b"\x0dab\x00"
    with pytest.raises(ValueError):
        aml.integer(-1)
    with pytest.raises(ValueError):
        aml.string("a\x00")


def test_eisa_id() -> None:
    assert aml.eisa_id("PNP0C0C") == 0x0C0CD041
    assert aml.eisa_id("PNP0A03") == 0x030AD041
    assert aml.eisaid("PNP0C0C") == b"\x0c\x41\xd0\x0c\x0c"
    for bad in ("PNP0C0", "pnp0c0c", "PNP0C0G"):
        with pytest.raises(ValueError):
            aml.eisa_id(bad)


def test_buffer_and_package() -> None:
    assert aml.buffer(b"\x01\x02") == b"\x11\x05\x0a\x02\x01\x02"
    assert aml.package([0, 1]) == b"\x12\x04\x02\x00\x01"
    assert aml.package([]) == b"\x12\x02\x00"
    assert aml.package(["a", 0x10]) == b"\x12\x07\x02\x0da\x00\x0a\x10"


def test_named_objects() -> None:
    assert aml.name("_S5", aml.package([0, 0, 0, 0])) == b"\x08_S5_\x12\x06\x04\x00\x00\x00\x00"
    assert aml.name("_HID", aml.eisaid("PNP0C0C")) == b"\x08_HID\x0c\x41\xd0\x0c\x0c"
    assert aml.device("PWRB", [aml.name("_UID", 1)]) == b"\x5b\x82\x0bPWRB\x08_UID\x01"
    assert aml.scope("\\_SB") == b"\x10\x06\\_SB_"
    assert aml.method("_STA", 0, [aml.return_(0x0F)]) == b"\x14\x09_STA\x00\xa4\x0a\x0f"
    assert aml.method_flags(2, serialized=True, sync_level=3) == 0x3A
    assert aml.notify("\\_SB.PWRB", 0x80) == b"\x86\\\x2e_SB_PWRB\x0a\x80"
    assert aml.store(aml.arg(0), aml.local(1)) == b"\x70\x68\x61"
    assert aml.if_(aml.lequal(aml.arg(0), 5), [aml.return_(1)]) == b"\xa0\x07\x93\x68\x0a\x05\xa4\x01"
    assert aml.else_([aml.return_(0)]) == b"\xa1\x03\xa4\x00"


def test_large_scope_uses_two_byte_length() -> None:
    # 12 Names of 6 bytes (08 + NameSeg + One) = 72 bytes + the 4-byte NameSeg: body 76 -> length 78
    body_terms = [aml.name(f"N{i:03d}", 1) for i in range(12)]
    enc = aml.scope("FOO", body_terms)
    assert enc[:3] == b"\x10\x4e\x04"
    assert len(enc) == 1 + 78


def test_operation_region_and_field() -> None:
    assert (aml.operation_region("PMIO", aml.RegionSpace.SYSTEM_IO, 0x600, 0x10)
            == b"\x5b\x80PMIO\x01\x0b\x00\x06\x0a\x10")
    enc = aml.field("PMIO", [("PM1S", 16), (None, 16), ("PM1C", 16)], access=aml.FieldAccess.WORD)
    assert enc == b"\x5b\x81\x12PMIO\x02PM1S\x10\x00\x10PM1C\x10"
    # bit counts are plain (not self-including) package lengths: 0x100 bits -> 40 10
    assert aml.field("R", [("BIG", 0x100)]).endswith(b"BIG_\x40\x10")
    flags = aml.field("R", [], access=aml.FieldAccess.DWORD, lock=True, update=aml.FieldUpdate.WRITE_AS_ZEROS)
    assert flags[-1] == 0x03 | 0x10 | 0x40


# -- tables ---------------------------------------------------------------------------------------------


@pytest.fixture(params=["pc", "q35"])
def acpi(request: pytest.FixtureRequest) -> AcpiTables:
    return build_acpi(cpus=2, ram_size=128 << 20, machine=request.param)


def header(raw: bytes) -> tuple:
    return struct.unpack_from("<4sIBB6s8sI4sI", raw)


def test_standard_headers_and_checksums(acpi: AcpiTables) -> None:
    expected_rev = {"XSDT": 1, "FACP": 6, "APIC": 1, "DSDT": 2}
    for sig, raw in acpi.data().items():
        if sig in ("RSDP", "FACS"):
            continue
        s, length, rev, _, oem, oem_table, oem_rev, creator, creator_rev = header(raw)
        assert s == sig.encode() and length == len(raw)
        assert rev == expected_rev[sig]
        assert oem == b"BOCHS " and oem_table == b"BXPC" + s and oem_rev == 1
        assert creator == b"BXPC" and creator_rev == 1
        assert sums_to_zero(raw), sig


def test_rsdp(acpi: AcpiTables) -> None:
    raw = acpi.data()["RSDP"]
    assert len(raw) == 36
    sig, _, oem, rev, rsdt, length, xsdt, _, _ = struct.unpack("<8sB6sBIIQB3s", raw)
    assert sig == b"RSD PTR " and oem == b"BOCHS " and rev == 2 and length == 36
    assert sum(raw[:20]) & 0xFF == 0 and sum(raw) & 0xFF == 0
    assert xsdt == acpi.addr("XSDT") and rsdt == 0
    assert acpi.rsdp_addr % 16 == 0 and 0xE0000 <= acpi.rsdp_addr < 0x100000


def test_rsdp_checksums_for_other_addresses() -> None:
    for addr in (0, 0x1234_5678, 0xFFFF_FFFF_0000):
        raw = build_rsdp(addr)
        assert sum(raw[:20]) & 0xFF == 0 and sum(raw) & 0xFF == 0


def test_xsdt_points_to_fadt_and_madt(acpi: AcpiTables) -> None:
    raw = acpi.data()["XSDT"]
    assert len(raw) == 36 + 16
    assert list(struct.unpack_from("<2Q", raw, 36)) == [acpi.addr("FACP"), acpi.addr("APIC")]


def test_fadt_offsets_match_the_spec() -> None:
    off = fadt_offsets()
    spec = {"firmware_ctrl": 36, "dsdt": 40, "preferred_pm_profile": 45, "sci_int": 46, "smi_cmd": 48,
            "acpi_enable": 52, "pm1a_evt_blk": 56, "pm1a_cnt_blk": 64, "pm_tmr_blk": 76, "gpe0_blk": 80,
            "pm1_evt_len": 88, "pm1_cnt_len": 89, "pm_tmr_len": 91, "gpe0_blk_len": 92, "p_lvl2_lat": 96,
            "century": 108, "iapc_boot_arch": 109, "flags": 112, "reset_reg": 116, "reset_value": 128,
            "arm_boot_arch": 129, "fadt_minor_version": 131, "x_firmware_ctrl": 132, "x_dsdt": 140,
            "x_pm1a_evt_blk": 148, "x_pm1a_cnt_blk": 172, "x_pm_tmr_blk": 208, "x_gpe0_blk": 220,
            "sleep_control_reg": 244, "sleep_status_reg": 256, "hypervisor_vendor_identity": 268}
    assert {k: off[k] for k in spec} == spec


@pytest.mark.parametrize("machine, pm", [("pc", PIIX4_PM), ("q35", ICH9_PM)])
def test_fadt_fields(machine: str, pm: PmConfig) -> None:
    t = build_acpi(cpus=1, ram_size=64 << 20, machine=machine)
    raw = t.data()["FACP"]
    assert len(raw) == FADT_LEN == 276

    def u(fmt: str, off: int) -> int:
        return struct.unpack_from("<" + fmt, raw, off)[0]

    assert u("I", 36) == t.addr("FACS") and u("I", 40) == t.addr("DSDT") and u("Q", 140) == t.addr("DSDT")
    assert u("Q", 132) == 0  # only the 32-bit FACS pointer, as QEMU
    assert u("H", 46) == 9
    assert (u("I", 48), u("B", 52), u("B", 53)) == (0xB2, pm.acpi_enable, pm.acpi_disable)
    assert (u("I", 56), u("I", 64), u("I", 76)) == (0x600, 0x604, 0x608)
    assert u("I", 80) == pm.gpe0_base == (0xAFE0 if machine == "pc" else 0x620)
    assert tuple(raw[88:93]) == (4, 2, 0, 4, pm.gpe0_len)
    assert u("H", 96) == 0xFFF and u("H", 98) == 0xFFF
    assert raw[108] == 0x32 and u("H", 109) == 0x3
    assert u("I", 112) == FADT_FLAGS == 0x84A5
    assert raw[116:128] == struct.pack("<BBBBQ", 1, 8, 0, 0, 0xCF9) and raw[128] == 0x0F
    assert raw[131] == 0 and u("Q", 268) == 0
    assert raw[148:160] == struct.pack("<BBBBQ", 1, 32, 0, 0, 0x600)
    assert raw[172:184] == struct.pack("<BBBBQ", 1, 16, 0, 0, 0x604)
    assert raw[208:220] == struct.pack("<BBBBQ", 1, 32, 0, 0, 0x608)
    assert raw[220:232] == struct.pack("<BBBBQ", 1, pm.gpe0_len * 8, 0, 0, pm.gpe0_base)


def test_facs(acpi: AcpiTables) -> None:
    raw = acpi.data()["FACS"]
    assert raw[:4] == b"FACS" and struct.unpack_from("<I", raw, 4)[0] == 64 == len(raw)
    assert raw[32] == 2  # version
    assert acpi.addr("FACS") % 64 == 0


def parse_madt(raw: bytes) -> tuple[int, int, list[tuple[int, bytes]]]:
    lapic, flags = struct.unpack_from("<II", raw, 36)
    entries, off = [], 44
    while off < len(raw):
        kind, length = raw[off], raw[off + 1]
        assert length >= 2
        entries.append((kind, raw[off:off + length]))
        off += length
    assert off == len(raw)
    return lapic, flags, entries


@pytest.mark.parametrize("cpus", [1, 4, 255])
def test_madt(cpus: int) -> None:
    raw = build_madt(cpus)
    assert sums_to_zero(raw)
    lapic, flags, entries = parse_madt(raw)
    assert lapic == 0xFEE00000 and flags == 1
    lapics = [struct.unpack("<BBBBI", e) for k, e in entries if k == 0]
    assert [(uid, apic, f) for _, _, uid, apic, f in lapics] == [(i, i, 1) for i in range(cpus)]
    ioapics = [struct.unpack("<BBBBII", e) for k, e in entries if k == 1]
    assert ioapics == [(1, 12, 0, 0, 0xFEC00000, 0)]
    overrides = [struct.unpack("<BBBBIH", e)[2:] for k, e in entries if k == 2]
    assert (0, 0, 2, 0) in overrides and (0, 9, 9, 0x000D) in overrides
    nmis = [struct.unpack("<BBBHB", e) for k, e in entries if k == 4]
    assert nmis == [(4, 6, 0xFF, 0, 1)]


@pytest.mark.parametrize("cpus", [0, 256])
def test_madt_cpu_limits(cpus: int) -> None:
    with pytest.raises(ValueError):
        build_madt(cpus)


def test_dsdt_aml() -> None:
    raw = build_dsdt()
    assert sums_to_zero(raw)
    pwrb = b"\x5b\x82\x15PWRB\x08_HID\x0c\x41\xd0\x0c\x0c\x08_UID\x01"
    sb = b"\x10\x1d\\_SB_" + pwrb
    s5 = b"\x08\\_S5_\x12\x06\x04\x00\x00\x00\x00"
    assert raw[36:] == sb + s5
    # the value \_S5 hands the guest is what it writes to PM1a_CNT (with SLP_EN) to power off
    assert S5_SLP_TYP == 0 and S5_PM1_CNT_WRITE == 0x2000


def test_layout(acpi: AcpiTables) -> None:
    spans = sorted((a, a + len(r)) for a, r in acpi.tables.values())
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start
    assert spans[-1][1] < 0x100000
    blob = acpi.blob()
    for a, r in acpi.tables.values():
        assert blob[a - acpi.base:a - acpi.base + len(r)] == r
    mem: dict[int, bytes] = {}
    acpi.write(lambda addr, b: mem.__setitem__(addr, b))
    assert mem == {a: r for a, r in acpi.tables.values()}


def test_layout_errors() -> None:
    with pytest.raises(ValueError):
        build_acpi(1, 64 << 20, machine="virt")
    with pytest.raises(ValueError):
        build_acpi(1, 64 << 20, base=0xE0008)
    with pytest.raises(ValueError):
        build_acpi(1, 64 << 20, base=0x80000)
    with pytest.raises(ValueError):
        build_acpi(1, 1 << 20, base=0x100000)  # above 1 MiB but beyond RAM
    high = build_acpi(1, 64 << 20, base=0x200000)
    assert high.rsdp_addr == 0x200000


# -- Debian's acpica-tools --------------------------------------------------------------------------------


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian package acpica-tools, which scripts/install-deps.sh "
                    "installs)")
    return path


def test_iasl_decodes_every_table(tmp_path: Path) -> None:
    iasl = need("iasl")
    t = build_acpi(cpus=2, ram_size=128 << 20, machine="q35")
    # iasl cannot load an RSDP from a file ("Loading an RSDP is not supported"): it is checked above.
    names = []
    for sig, raw in t.data().items():
        if sig != "RSDP":
            (tmp_path / f"{sig}.dat").write_bytes(raw)
            names.append(f"{sig}.dat")
    run = subprocess.run([iasl, "-d", *names], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    dsl = {n[:4]: (tmp_path / f"{n[:4]}.dsl").read_text() for n in names}
    for sig, text in dsl.items():
        assert "Incorrect" not in text and "Error" not in text and "****" not in text, (sig, text)
    assert 'EisaId ("PNP0C0C")' in dsl["DSDT"] and "Name (\\_S5, Package (0x04)" in dsl["DSDT"]
    assert "Device (PWRB)" in dsl["DSDT"]
    assert dsl["APIC"].count("[Processor Local APIC]") == 2
    assert "[I/O APIC]" in dsl["APIC"] and "Address : FEC00000" in dsl["APIC"]
    assert dsl["APIC"].count("[Interrupt Source Override]") == 5 and "[Local APIC NMI]" in dsl["APIC"]
    assert "PM1A Event Block Address : 00000600" in dsl["FACP"]
    assert "PM1A Control Block Address : 00000604" in dsl["FACP"]
    assert "PM Timer Block Address : 00000608" in dsl["FACP"]
    assert "SCI Interrupt : 0009" in dsl["FACP"] and "Address : 0000000000000CF9" in dsl["FACP"]
    assert f"DSDT Address : {t.addr('DSDT'):08X}" in dsl["FACP"]
    xsdt_entries = re.findall(r"ACPI Table Address +\d+ : ([0-9A-F]{16})", dsl["XSDT"])
    assert [int(a, 16) for a in xsdt_entries] == [t.addr("FACP"), t.addr("APIC")]
    assert 'Signature : "FACS"' in dsl["FACS"]


def test_acpiexec_evaluates_the_dsdt(tmp_path: Path) -> None:
    acpiexec = need("acpiexec")
    (tmp_path / "dsdt.dat").write_bytes(build_dsdt())
    run = subprocess.run([acpiexec, "-b", "evaluate \\_S5; evaluate \\_SB.PWRB._HID", "dsdt.dat"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "[Package] Contains 4 Elements:" in out and "[Integer] = 000000000C0CD041" in out, out
