"""Tests of the PC boards' PCI host bridge in ACPI (``pyqemu.hw.acpi``): the resource descriptors of ACPI
6.x section 6.4 against hand-assembled bytes, the PCI windows, the ``_PRT`` rows against the boards' own
interrupt wiring (``swizzle_map_irq``, ``ich9_map_irq``), the MCFG (PCI Firmware Specification 3.0,
4.1.2), and -- with Debian's acpica-tools -- ``iasl -d`` decoding (and recompiling) the DSDT cleanly and
``acpiexec`` evaluating ``\\_SB.PCI0._CRS``, ``_PRT``, ``\\_PIC`` and the link devices.

acpiexec simulates an operation region as a buffer filled with the ``-fv`` value (zero by default), so a
PCI_Config route register reads as that byte until AML writes it.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pyqemu.hw.acpi import aml
from pyqemu.hw.acpi.tables import (
    I440FX_PCI,
    PCI_HOLE_END,
    Q35_PCI,
    PciChipset,
    build_acpi,
    build_dsdt,
    build_mcfg,
    pci_hole32,
    pci_host,
    prt_entries,
    sums_to_zero,
)
from pyqemu.hw.pci.pci import pci_devfn, swizzle_map_irq
from pyqemu.hw.pci.q35 import ich9_map_irq

ECAM = (0xB0000000, 0x10000000)
HOLE64 = (0x8_0000_0000, 0x8_0000_0000)

# -- resource descriptors -----------------------------------------------------------------------------


def test_small_descriptors() -> None:
    assert aml.io_port(0xCF8, 0xCF8, 1, 8) == b"\x47\x01\xf8\x0c\xf8\x0c\x01\x08"
    assert aml.resource_template([]) == b"\x11\x05\x0a\x02\x79\x00"


def test_address_space_descriptors() -> None:
    assert aml.word_bus_number(0, 0xFF) == bytes.fromhex("880d00 02 0c 00 0000 0000 ff00 0000 0001")
    assert aml.word_io(0xD00, 0xFFFF) == bytes.fromhex("880d00 01 0c 03 0000 000d ffff 0000 00f3")
    assert aml.memory_window(0xA0000, 0xBFFFF, cacheable=True) == bytes.fromhex(
        "871700 00 0c 03 00000000 00000a00 ffff0b00 00000000 00000200")
    q = aml.memory_window(1 << 35, (1 << 36) - 1)
    assert q[:6] == b"\x8a\x2b\x00\x00\x0c\x01" and len(q) == 46
    assert struct.unpack_from("<5Q", q, 6) == (0, 1 << 35, (1 << 36) - 1, 0, 1 << 35)
    for bad in ((2, 0x10, 0xF), (2, 0, 0x10000)):
        with pytest.raises(ValueError):
            aml.address_space(aml.AddressSpaceType.IO, *bad)


def test_interrupt_and_fixed_memory_descriptors() -> None:
    # consumer, level, active-high, shared; 3 interrupts
    assert aml.interrupt([5, 10, 11]) == bytes.fromhex("890e00 09 03 05000000 0a000000 0b000000")
    assert aml.interrupt([16])[aml.INTERRUPT_NUMBER_OFFSET] == 16
    with pytest.raises(ValueError):
        aml.interrupt([])
    assert aml.memory32_fixed(0xB0000000, 0x10000000) == bytes.fromhex("860900 01 000000b0 00000010")


def test_expressions() -> None:
    assert aml.index(aml.local(0), 5) == b"\x88\x60\x0a\x05\x00"
    assert aml.deref_of(aml.index(aml.arg(0), 5)) == b"\x83\x88\x68\x0a\x05\x00"
    assert aml.call("\\_SB.LKST", [aml.arg(0)]) == b"\\\x2e_SB_LKST\x68"


# -- windows and routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "below_4g, ecam, expected",
    [
        (128 << 20, None, ((0x08000000, PCI_HOLE_END),)),  # pc, small RAM
        (0xE0000000, None, ((0xE0000000, PCI_HOLE_END),)),  # pc, >= 3.5 GiB
        (128 << 20, ECAM, ((0x08000000, 0xAFFFFFFF), (0xC0000000, PCI_HOLE_END))),  # q35: ECAM splits it
        (0xB0000000, ECAM, ((0xC0000000, PCI_HOLE_END),)),  # q35 >= 2.75 GiB: ECAM at the bottom
    ],
)
def test_pci_hole32(below_4g: int, ecam: tuple[int, int] | None, expected: tuple) -> None:
    assert pci_hole32(below_4g, ecam) == expected


def test_pci_host_defaults_and_errors() -> None:
    assert pci_host("pc", 8 << 30).mem32 == ((0xE0000000, PCI_HOLE_END),)
    assert pci_host("q35", 8 << 30, ecam=ECAM).mem32 == ((0xC0000000, PCI_HOLE_END),)
    assert pci_host("q35", 1 << 30, hole64=HOLE64).mem64 == (HOLE64[0], HOLE64[0] + HOLE64[1] - 1)
    with pytest.raises(ValueError):
        pci_host("pc", 1 << 30, hole64=(0xC0000000, 1 << 20))
    with pytest.raises(ValueError):
        pci_host("virt", 1 << 30)


@pytest.mark.parametrize("chipset, map_irq", [(I440FX_PCI, swizzle_map_irq), (Q35_PCI, ich9_map_irq)])
@pytest.mark.parametrize("apic", [False, True])
def test_prt_agrees_with_the_board_wiring(chipset: PciChipset, map_irq: Callable[[int, int], int],
                                          apic: bool) -> None:
    rows = prt_entries(chipset, apic)
    assert len(rows) == 31 * 4
    prefix = "\\_SB.GSI" if apic and chipset is Q35_PCI else "\\_SB.LNK"
    for addr, pin, source, index in rows:
        slot = addr >> 16
        assert addr & 0xFFFF == 0xFFFF and 1 <= slot <= 31 and 0 <= pin <= 3 and index == 0
        assert source == prefix + chr(ord("A") + map_irq(pci_devfn(slot, 0), pin + 1))


def test_prt_examples() -> None:
    pc = {(a >> 16, p): s[-1] for a, p, s, _ in prt_entries(I440FX_PCI, False)}
    assert (pc[1, 0], pc[2, 0], pc[3, 3], pc[31, 1]) == ("B", "C", "C", "A")
    q35 = {(a >> 16, p): s[-1] for a, p, s, _ in prt_entries(Q35_PCI, False)}
    # ordinary slots on E-H, swizzled; 25-29 and 31 on A-D unswizzled; 30 on E-H unswizzled
    assert (q35[1, 0], q35[2, 0], q35[4, 1]) == ("F", "G", "F")
    assert (q35[25, 0], q35[29, 3], q35[31, 1]) == ("A", "D", "B")
    assert (q35[30, 0], q35[30, 3]) == ("E", "H")


# -- MCFG -----------------------------------------------------------------------------------------------


def test_mcfg() -> None:
    raw = build_mcfg(*ECAM)
    assert len(raw) == 60 and raw[:4] == b"MCFG" and struct.unpack_from("<I", raw, 4)[0] == 60
    assert raw[8] == 1 and sums_to_zero(raw)
    assert raw[36:44] == bytes(8)
    assert struct.unpack_from("<QHBBI", raw, 44) == (0xB0000000, 0, 0, 255, 0)
    assert struct.unpack_from("<QHBBI", build_mcfg(0xE0000000, 64 << 20), 44) == (0xE0000000, 0, 0, 63, 0)
    for bad in ((0xB0000000, 3 << 19), (0xB0000000, 512 << 20), (0xB0100000, 256 << 20)):
        with pytest.raises(ValueError):
            build_mcfg(*bad)


def test_build_acpi_lists_the_mcfg() -> None:
    t = build_acpi(cpus=1, ram_size=128 << 20, machine="q35", ecam=ECAM)
    xsdt = t.data()["XSDT"]
    assert list(struct.unpack_from("<3Q", xsdt, 36)) == [t.addr("FACP"), t.addr("APIC"), t.addr("MCFG")]
    assert t.data()["MCFG"] == build_mcfg(*ECAM)
    assert "MCFG" not in build_acpi(cpus=1, ram_size=128 << 20, machine="q35").tables


# -- Debian's acpica-tools ------------------------------------------------------------------------------


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian package acpica-tools, which scripts/install-deps.sh "
                    "installs)")
    return path


def q35_dsdt() -> bytes:
    return build_dsdt(pci=pci_host("q35", 128 << 20, hole64=HOLE64, ecam=ECAM))


def pc_dsdt() -> bytes:
    return build_dsdt(pci=pci_host("pc", 128 << 20))


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_iasl_decodes_and_recompiles_the_dsdt(machine: str, tmp_path: Path) -> None:
    iasl = need("iasl")
    (tmp_path / "dsdt.dat").write_bytes(q35_dsdt() if machine == "q35" else pc_dsdt())
    run = subprocess.run([iasl, "-d", "dsdt.dat"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    dsl = (tmp_path / "dsdt.dsl").read_text()
    assert "Incorrect" not in dsl and "Error" not in dsl and "****" not in dsl, dsl
    assert "Device (PCI0)" in dsl and 'EisaId ("PNP0C0F")' in dsl and "Method (\\_PIC, 1" in dsl
    assert "WordBusNumber (ResourceProducer" in dsl and dsl.count("WordIO (ResourceProducer") == 2
    assert dsl.count("Interrupt (ResourceConsumer, Level, ActiveHigh, Shared") >= 2
    if machine == "q35":
        assert 'EisaId ("PNP0A08")' in dsl and 'Name (_CID, EisaId ("PNP0A03")' in dsl
        assert "Name (_BBN, Zero)" in dsl and "QWordMemory (ResourceProducer" in dsl
        assert "OperationRegion (PRR1, PCI_Config, 0x68, 0x04)" in dsl and "Device (GSIH)" in dsl
        assert 'EisaId ("PNP0C02")' in dsl and "0xB0000000,         // Address Base" in dsl
    else:
        assert 'EisaId ("PNP0A03")' in dsl and "_BBN" not in dsl and "QWordMemory" not in dsl
        assert "Name (_ADR, 0x00010000)" in dsl and "Device (LNKE)" not in dsl
    # the disassembly compiles back without warnings or remarks
    (tmp_path / "re.dsl").write_text(dsl)
    run = subprocess.run([iasl, "re.dsl"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "0 Errors, 0 Warnings, 0 Remarks" in run.stdout, run.stdout + run.stderr


def test_iasl_decodes_the_mcfg(tmp_path: Path) -> None:
    iasl = need("iasl")
    (tmp_path / "mcfg.dat").write_bytes(build_mcfg(*ECAM))
    run = subprocess.run([iasl, "-d", "mcfg.dat"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    dsl = (tmp_path / "mcfg.dsl").read_text()
    assert "Incorrect" not in dsl and "Error" not in dsl and "****" not in dsl, dsl
    assert "Base Address : 00000000B0000000" in dsl and "End Bus Number : FF" in dsl


# A test-only SSDT (ASL, compiled by iasl): _PRT is too big for acpiexec's 16 KiB result buffer, so these
# methods return its size and single rows.
PRT_PROBE_ASL = """DefinitionBlock ("", "SSDT", 2, "PYQEMU", "PRTPROBE", 1)
{
    External (\\_SB.PCI0._PRT, MethodObj)
    Method (PRTN, 0) { Return (SizeOf (\\_SB.PCI0._PRT)) }
    Method (PRTE, 1) { Local0 = \\_SB.PCI0._PRT; Return (DerefOf (Local0 [Arg0])) }
}
"""


def acpiexec(tmp_path: Path, dsdt: bytes, commands: list[str], fill: int | None = None) -> list[str]:
    """Run ``commands`` in one acpiexec session over ``dsdt`` and the _PRT probe; each one's output."""
    tool = need("acpiexec")
    iasl = need("iasl")
    (tmp_path / "probe.asl").write_text(PRT_PROBE_ASL)
    run = subprocess.run([iasl, "probe.asl"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    (tmp_path / "dsdt.dat").write_bytes(dsdt)
    opts = [] if fill is None else ["-fv", hex(fill)]
    run = subprocess.run([tool, *opts, "-b", "; ".join(commands), "dsdt.dat", "probe.aml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    out = run.stdout + run.stderr
    assert run.returncode == 0 and "ACPI Error" not in out and "Exception" not in out, out
    parts = out.split("Evaluating ")[1:]
    assert len(parts) == len(commands), out
    return parts


def buffer_of(text: str) -> bytes:
    assert "[Buffer]" in text, text
    # the dump starts on the "[Buffer] Length NN =" line when it is short, on the next lines otherwise
    lines = re.finditer(r"(?:^|=)\s+[0-9A-F]{4}: ((?:[0-9A-F]{2} )+)", text, re.M)
    return bytes.fromhex("".join(m.group(1) for m in lines))


def integer_of(text: str) -> int:
    return int(re.search(r"\[Integer\] = ([0-9A-F]+)", text).group(1), 16)


def descriptors(template: bytes) -> list[bytes]:
    """Split a resource template into its descriptors (6.4.1: small items carry their length in bits 2-0
    of the tag, large items in a 16-bit word)."""
    out, off = [], 0
    while True:
        tag = template[off]
        size = 3 + struct.unpack_from("<H", template, off + 1)[0] if tag & 0x80 else 1 + (tag & 7)
        out.append(template[off:off + size])
        off += size
        if tag == 0x79:
            assert off == len(template)
            return out


def test_acpiexec_pci0_crs_and_prt(tmp_path: Path) -> None:
    cmds = ["\\_SB.PCI0._CRS", "\\PRTN", "\\PRTE 4", "\\PICF", "\\_PIC 1", "\\PICF", "\\PRTE 4", "\\PRTE 120"]
    out = acpiexec(tmp_path, q35_dsdt(), [f"evaluate {c}" for c in cmds])
    crs = descriptors(buffer_of(out[0]))
    ranges = []
    for d in crs[:-1]:
        if d[0] == 0x47:
            ranges.append(("port", *struct.unpack_from("<HH", d, 2)))
        else:
            kind = d[3]
            fmt = {0x88: "H", 0x87: "I", 0x8A: "Q"}[d[0]]
            _, lo, hi, _, length = struct.unpack_from("<5" + fmt, d, 6)
            assert length == hi - lo + 1 and d[4] == 0x0C  # producer, fixed window
            ranges.append((("mem", "io", "bus")[kind], lo, hi))
    assert ranges == [("bus", 0, 0xFF), ("port", 0xCF8, 0xCF8), ("io", 0, 0xCF7), ("io", 0xD00, 0xFFFF),
                      ("mem", 0xA0000, 0xBFFFF), ("mem", 0x08000000, 0xAFFFFFFF),
                      ("mem", 0xC0000000, PCI_HOLE_END), ("mem", HOLE64[0], HOLE64[0] + HOLE64[1] - 1)]
    assert integer_of(out[1]) == 124
    # slot 2 INTA#: PIRQG; PIC mode until \_PIC(1), then the GSI link
    assert "[Package] Contains 4 Elements:" in out[2]
    assert re.findall(r"\[Integer\] = ([0-9A-F]+)", out[2]) == ["000000000002FFFF", "0000000000000000",
                                                                 "0000000000000000"]
    assert "Name LNKG Device" in out[2]
    assert integer_of(out[3]) == 0 and integer_of(out[5]) == 1
    assert "Name GSIG Device" in out[6]
    assert "00000000001FFFFF" in out[7] and "Name GSIA Device" in out[7]  # slot 31 INTA#: PIRQA


def test_acpiexec_links_read_the_route_registers(tmp_path: Path) -> None:
    # every route register reads 0x8A: IRQ 10, disabled
    cmds = ["\\_SB.LNKA._CRS", "\\_SB.LNKA._STA", "\\_SB.LNKA._PRS"]
    out = acpiexec(tmp_path, pc_dsdt(), [f"evaluate {c}" for c in cmds], fill=0x8A)
    assert buffer_of(out[0]) == aml.interrupt([10]) + b"\x79\x00"
    assert integer_of(out[1]) == 0x09
    assert buffer_of(out[2]) == aml.interrupt([5, 10, 11]) + b"\x79\x00"


@pytest.mark.parametrize("machine, router", [("pc", "ISA"), ("q35", "LPC")])
def test_acpiexec_link_srs_and_dis(machine: str, router: str, tmp_path: Path) -> None:
    srs = (aml.interrupt([11]) + b"\x79\x00").hex(" ").upper()
    last = "H" if machine == "q35" else "D"
    cmds = [f"\\_SB.LNK{last}._SRS ({srs})", f"\\_SB.LNK{last}._CRS", f"\\_SB.LNK{last}._STA",
            f"\\_SB.PCI0.{router}.PRQ{last}", f"\\_SB.LNK{last}._DIS", f"\\_SB.LNK{last}._STA",
            f"\\_SB.PCI0.{router}.PRQ{last}", f"\\_SB.PCI0.{router}.PRQA"]
    out = acpiexec(tmp_path, q35_dsdt() if machine == "q35" else pc_dsdt(), [f"evaluate {c}" for c in cmds])
    assert buffer_of(out[1]) == aml.interrupt([11]) + b"\x79\x00"
    assert [integer_of(out[i]) for i in (2, 3, 5, 6, 7)] == [0x0B, 0x0B, 0x09, 0x8B, 0]


def test_acpiexec_gsi_links(tmp_path: Path) -> None:
    out = acpiexec(tmp_path, q35_dsdt(), ["evaluate \\_SB.GSIA._CRS", "evaluate \\_SB.GSIH._PRS",
                                          "evaluate \\_SB.GSIH._UID"])
    assert buffer_of(out[0]) == aml.interrupt([16]) + b"\x79\x00"
    assert buffer_of(out[1]) == aml.interrupt([23]) + b"\x79\x00"
    assert integer_of(out[2]) == 15
