"""Bare-metal tests of the RISC-V privileged architecture on the ``virt`` board.

Each program in ``tests/guest/baremetal/`` (built with :mod:`bmbuild`) runs in-process on a
:class:`~pyqemu.hw.riscv.virt.VirtMachine` with ``-bios none``: it starts in M-mode at 0x80000000,
reports one ``PASS: <check>`` or ``FAIL: <check>: <details>`` line per check on the UART, then
``DONE pass=N fail=M``, and powers off through the SiFive test device with the number of failures
as exit status.  Every check is a separate test here (``test_check[<program>-<check>]``), so a
failure names exactly what the guest saw; ``test_program`` also checks the exit status and that
the program reported exactly the expected checks.

The checks follow the RISC-V privileged specification (traps, privilege transitions, delegation,
interrupts, Sv39/Sv48, PMP, CSRs, two harts); see the comment at the top of each program.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass, field

import bmbuild
import pytest

from pyqemu.accel.tcg import backends
from pyqemu.chardev.base import Chardev
from pyqemu.core.clock import Timer
from pyqemu.hw.riscv.virt import VirtConfig, VirtMachine

pytestmark = pytest.mark.timeout(300)

RAM_SIZE = 128 << 20
#: virtual seconds after which a run is stopped (a guest stuck waiting for an interrupt, say)
WATCHDOG_SECONDS = 30
WATCHDOG_STATUS = -1


@dataclass(frozen=True)
class Program:
    checks: str  # the names of its checks, whitespace separated
    smp: int = 1

    @property
    def names(self) -> list[str]:
        return self.checks.split()


_CHECKS = {
    "traps": """
        illegal_insn illegal_insn_mpp_m mret_resumes_after_fault illegal_compressed
        mret_resumes_after_compressed_fault ecall_from_m ecall_from_s ecall_from_s_mpp ecall_from_u
        ecall_from_u_mpp ebreak ebreak_resume c_ebreak c_ebreak_resume amo_misaligned
        amo_misaligned_no_write amoswap_d_misaligned lr_misaligned amo_aligned_ok amo_aligned_value
        load_access_fault load_access_fault_skipped store_access_fault fetch_access_fault
        load_access_fault_from_u amo_access_fault_is_store_fault lr_access_fault_is_load_fault
        mtvec_vectored_readback vectored_msi_cause vectored_msi_entry vectored_mti_cause
        vectored_mti_entry vectored_ssi_cause vectored_ssi_entry vectored_exception_cause
        vectored_exception_uses_base direct_msi_cause direct_msi_entry mepc_bit0_zero
        mcause_writable
    """,
    "priv": """
        mret_to_s_then_ecall trap_from_s_sets_mpp_s mret_to_u_then_ecall trap_from_u_sets_mpp_u
        s_reads_sstatus u_reads_sstatus_illegal mret_mie_from_mpie mret_sets_mpie mret_sets_mpp_u
        mret_mie_clear_from_mpie trap_clears_mie trap_saves_mie_in_mpie trap_from_m_sets_mpp_m
        mret_restores_mie trap_saves_mie0_in_mpie sret_spp_u_goes_to_u sret_spp_s_stays_in_s
        sret_sie_from_spie sret_sets_spie sret_sets_spp_u mret_in_s_illegal sret_in_u_illegal
        sret_in_s_with_tsr_illegal deleg_ecall_from_u s_trap_clears_sie s_trap_saves_sie_in_spie
        s_trap_from_u_sets_spp_u deleg_illegal_from_s s_trap_saves_sie0_in_spie
        s_trap_from_s_sets_spp_s m_exception_not_delegated mprv_s_load_translated_no_fault
        mprv_s_load_translated mprv_s_store_translated_no_fault mprv_s_store_translated
        mprv_mpp_m_untranslated_no_fault mprv_mpp_m_untranslated no_mprv_untranslated
        mprv_u_load_supervisor_page_faults mprv_fault_taken_from_m mprv_s_load_user_page_faults
        mprv_s_load_user_page_with_sum mprv_s_load_user_page_with_sum_value mprv_u_load_user_page
        mret_to_s_clears_mprv
    """,
    "deleg": """
        medeleg_ecall_from_m_read_only_zero medeleg_delegable_bits medeleg_cleared
        mideleg_s_interrupts stvec_readback deleg_u_ecall_to_s deleg_u_ecall_m_not_involved
        s_ecall_not_delegated deleg_illegal_from_s deleg_illegal_from_s_spp u_load_user_page
        u_load_user_page_value deleg_u_load_page_fault deleg_u_load_page_fault_stval_csr
        deleg_u_store_page_fault deleg_u_store_page_fault_no_write deleg_u_fetch_page_fault
        u_load_page_fault_to_m sstatus_shows_sie sstatus_hides_m_fields
        sstatus_write_clears_mstatus_sie sstatus_write_sets_mstatus_fields
        sstatus_write_keeps_m_fields sstatus_write_zero_clears_s_fields
        sie_write_sets_delegated_mie_bits sie_reads_delegated_mie_bits sip_shows_delegated_ssip
        sip_write_clears_mip_ssip sip_write_sets_mip_ssip sip_stip_read_only
        sip_hides_undelegated_ssip sip_undelegated_ssip_read_only sie_write_undelegated_ignored
    """,
    "irq": """
        mtip_pending_when_mtime_reaches_mtimecmp mtip_clear_when_mtimecmp_ahead mip_mtip_read_only
        mtime_advances timer_interrupt_taken timer_interrupt_cause timer_not_early timer_mpie_set
        timer_mie_cleared_in_handler msip_register_reads_back mip_msip_follows_clint
        mip_msip_cleared msi_masked_by_mstatus_mie_in_m msi_taken msi_taken_in_u_with_mie_clear
        msi_taken_in_u_mpp msi_taken_in_s_with_mie_clear ssi_delegated_to_s ssi_spp_s ssi_spie_set
        ssi_cleared_by_handler delegated_ssi_not_taken_in_m delegated_ssi_taken_in_u_with_sie_clear
        delegated_ssi_taken_in_u_spp ssi_vectored_stvec_cause ssi_vectored_stvec_entry
        mip_stip_writable_by_m sip_stip_visible_and_read_only_in_s sti_delegated_to_s
        mip_stip_cleared_by_m meip_pending_from_plic all_six_pending priority_count priority_1_mei
        priority_2_msi priority_3_mti priority_4_sei priority_5_ssi priority_6_sti
        mip_seip_reflects_plic plic_s_context_claim mip_seip_rmw_ignores_plic_line
        mip_seip_software_writable mip_seip_software_clear plic_pending_while_line_high
        plic_pending_latched_after_line_drops plic_latched_request_claimed
        plic_no_pending_after_complete
    """,
    "wfi": """
        wfi_wakes_on_timer wfi_sleeps_until_interrupt wfi_no_trap_with_mie_clear wfi_interrupt_taken
        wfi_pending_interrupt_returns_at_once wfi_in_s_with_tw_illegal wfi_in_u_illegal
        wfi_long_sleep continues_after_wfi
    """,
    "pmp": """
        no_pmp_entries_m_runs no_pmp_entries_s_fetch_fails no_pmp_entries_u_fetch_fails
        pmpcfg0_readback pmpaddr3_readback s_load_outside_regions s_store_outside_regions
        s_fetch_outside_regions u_load_outside_regions m_access_outside_regions_ok
        m_access_outside_regions_no_trap napot_r_load napot_r_load_no_trap napot_r_store_faults
        napot_r_store_no_write napot_r_fetch_faults tor_x_fetch tor_x_fetch_no_trap
        tor_x_load_faults tor_x_store_faults napot_rw_store napot_rw_load napot_rw_no_trap
        napot_rw_fetch_faults napot_none_s_load_faults napot_none_u_load_faults
        unlocked_entry_ignored_in_m unlocked_entry_ignored_in_m_no_trap amo_on_r_region_store_fault
        amo_on_none_region_store_fault lowest_entry_wins na4_word_load na4_word_load_no_trap
        partial_match_load_fails partial_match_store_fails
        beyond_na4_uses_next_entry beyond_na4_no_trap pmpcfg1_illegal_on_rv64 pmp_checks_page_walk
        pmp_allows_page_walk pmp_allows_page_walk_no_trap locked_tor_applies_to_m
        locked_tor_locks_pmpaddr_below locked_r_m_load locked_r_m_load_no_trap
        locked_applies_to_m_store locked_applies_to_m_fetch locked_cfg_unchanged
        locked_addr_unchanged
    """,
    "csr": """
        misa_mxl_rv64 misa_imafdc_su misa_not_rv32e mhartid_0 id_csrs_readable mscratch_rw
        mstatus_uxl_sxl_64 nonexistent_csr_illegal write_mhartid_illegal set_bits_mhartid_illegal
        csrrs_x0_read_only_csr_ok write_cycle_illegal s_reads_mstatus_illegal
        u_reads_sstatus_illegal u_writes_sscratch_illegal s_writes_sscratch
        s_writes_sscratch_no_trap m_reads_counters cycle_advances instret_counts_instructions
        time_advances time_is_mtime mcycle_is_cycle_counter minstret_writable
        s_cycle_mcounteren_off_illegal s_time_mcounteren_off_illegal
        s_instret_mcounteren_off_illegal s_cycle_mcounteren_on u_cycle_scounteren_off_illegal
        s_time_mcounteren_on u_time_scounteren_off_illegal s_instret_mcounteren_on
        u_instret_scounteren_off_illegal u_cycle_both_on u_time_both_on u_instret_both_on
        u_cycle_mcounteren_off_illegal u_time_mcounteren_off_illegal
        u_instret_mcounteren_off_illegal s_time_with_tm_only s_cycle_with_tm_only_illegal fs_off
        fs_off_fadd_illegal fs_off_fmv_illegal fs_off_fld_illegal fs_off_fcsr_illegal fs_still_off
        fs_initial_sd_clear fs_initial_fp_ok fp_write_makes_fs_dirty fs_dirty_sets_sd
        sstatus_sd_visible fs_clean_sd_clear fp_result fp_compute_makes_clean_dirty
        fflags_write_makes_dirty sstatus_fs_off_view
    """,
    "smp": """
        hart1_ready hart1_a0_is_hartid hart1_mhartid hart0_woken_by_ipi hart1_slept_in_wfi
        amoadd_total lrsc_total
    """,
}

MMU_COMMON = """
    satp_readback satp_read_in_s s_runs_translated_4k_identity s_runs_translated_no_trap
    4k_page_load 4k_page_store 4k_page_no_trap 2m_megapage_load 1g_gigapage_load
    1g_gigapage_load_far 1g_gigapage_store superpages_no_trap misaligned_megapage_fault
    misaligned_gigapage_fault s_load_u_page_without_sum_faults s_load_u_page_with_sum_no_trap
    s_load_u_page_with_sum s_exec_u_page_faults_even_with_sum u_load_u_page u_exec_u_page
    u_access_u_pages_no_trap u_load_s_page_faults load_exec_only_page_faults
    load_exec_only_page_with_mxr_no_trap load_exec_only_page_with_mxr a_d_load_value
    hw_sets_a_on_load load_leaves_d_clear hw_sets_d_on_store a_d_store_value a_d_no_trap
    store_ro_page_fault store_ro_page_unchanged amo_ro_page_store_fault amo_invalid_pte_store_fault
    fetch_nx_page_fault fetch_x_page fetch_x_page_no_trap fetch_straddling_into_nx_page_fault
    fetch_straddling_pages fetch_straddling_pages_no_trap level0_non_leaf_pte_fault
    invalid_pte_load_fault invalid_pte_store_fault reserved_w_only_pte_fault leaf_without_v_fault
    reserved_pte_bits_fault invalid_pte_fetch_fault noncanonical_load_fault noncanonical_store_fault
    canonical_unmapped_fault sfence_vma_addr_remap sfence_vma_all_remap sfence_vma_no_trap
    tvm_satp_access_illegal tvm_sfence_vma_illegal satp_reserved_mode_ignored satp_mode15_ignored
    page_walk_unmapped_access_fault
"""
_MMU = " ".join(f"sv39_{n} sv48_{n}" for n in MMU_COMMON.split())
_MMU += " sv39_bit39_set_is_noncanonical sv48_512g_terapage_no_trap sv48_512g_terapage_load satp_bare"

PROGRAMS: dict[str, Program] = {name: Program(checks) for name, checks in _CHECKS.items()}
PROGRAMS["mmu"] = Program(_MMU)
PROGRAMS["smp"] = Program(_CHECKS["smp"], smp=2)


class CaptureChardev(Chardev):
    """The serial port's host end: collects everything the guest writes."""

    def __init__(self) -> None:
        super().__init__("capture")
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


@dataclass
class Run:
    status: int | None
    output: str
    wall: float  # seconds of host time machine.run() took
    cpu: float  # seconds of process CPU time it used
    passed: set[str] = field(default_factory=set)
    failed: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for line in self.output.splitlines():
            m = re.match(r"(PASS|FAIL): ([A-Za-z0-9_]+)", line)
            if m is None:
                continue
            if m.group(1) == "PASS":
                self.passed.add(m.group(2))
            else:
                self.failed.setdefault(m.group(2), []).append(line)


def run_elf(elf: str, smp: int = 1, watchdog: float = WATCHDOG_SECONDS) -> Run:
    """Boot ``elf`` on a virt machine with ``-bios none`` and run it until it powers off."""
    serial = CaptureChardev()
    machine = VirtMachine(VirtConfig(ram_size=RAM_SIZE, smp=smp, bios=None, kernel=elf, serial=serial))

    def expire() -> None:
        if machine.shutdown_code is None:
            machine.request_shutdown(WATCHDOG_STATUS)

    Timer(machine.clock, expire).mod(machine.clock.now() + int(watchdog * 1e9))
    wall, cpu = time.monotonic(), time.process_time()
    status = machine.run()
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    return Run(status, serial.data.decode("utf-8", "replace"), wall, cpu)


def _need_toolchain() -> None:
    if not bmbuild.have_toolchain():
        pytest.skip(f"{bmbuild.guestbuild.CROSS_CC} is not installed")


@functools.cache
def run_program(name: str) -> Run:
    """Build and run one program (once per test session)."""
    return run_elf(str(bmbuild.build(name)), PROGRAMS[name].smp)


def _describe(run: Run) -> str:
    return f"exit status {run.status}, {run.wall:.2f} s; guest output:\n{run.output}"


@pytest.mark.parametrize(("program", "check"),
                         [(p, c) for p, prog in PROGRAMS.items() for c in prog.names],
                         ids=[f"{p}-{c}" for p, prog in PROGRAMS.items() for c in prog.names])
def test_check(program: str, check: str) -> None:
    _need_toolchain()
    run = run_program(program)
    if check in run.failed:
        pytest.fail("\n".join(run.failed[check]), pytrace=False)
    assert check in run.passed, f"{program} did not report {check!r}: {_describe(run)}"


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_program(program: str) -> None:
    """The program ran to the end, reported exactly its checks and exited with their verdict."""
    _need_toolchain()
    run = run_program(program)
    assert run.status != WATCHDOG_STATUS, f"{program} did not power off: {_describe(run)}"
    expected = set(PROGRAMS[program].names)
    reported = run.passed | set(run.failed)
    assert reported == expected, (f"unexpected checks {sorted(reported - expected)}, "
                                  f"missing {sorted(expected - reported)}: {_describe(run)}")
    m = re.search(r"^DONE pass=(\d+) fail=(\d+)$", run.output, re.M)
    assert m, f"no DONE line: {_describe(run)}"
    n_fail = int(m.group(2))
    assert run.status == min(n_fail, 0xFFF), f"exit status does not match the DONE line: {_describe(run)}"
    assert n_fail == 0, f"{n_fail} failed checks: {_describe(run)}"


def test_programs_are_fast() -> None:
    """Every program needs well under a few seconds of emulation."""
    _need_toolchain()
    slow = {p: round(run_program(p).wall, 2) for p in PROGRAMS if run_program(p).wall > 5}
    assert not slow, f"programs taking more than 5 s: {slow}"


def test_wfi_sleeps() -> None:
    """wfi.c waits about 210 ms in WFI in all: the host must sleep through it, not spin, and wake
    promptly (the 10 ms wait is bounded in the guest)."""
    _need_toolchain()
    run = run_program("wfi")
    assert run.status == 0, _describe(run)
    assert 0.2 <= run.wall < 5, f"the program took {run.wall:.2f} s"
    assert run.cpu < run.wall - 0.15, (f"the host was busy while the guest waited: {run.cpu:.2f} s of CPU "
                                      f"in {run.wall:.2f} s")


def test_poweroff_then_wfi() -> None:
    """A poweroff request followed by WFI with no interrupt enabled (as firmware does) must stop the
    machine at once; only the watchdog timer armed here would end the run otherwise."""
    _need_toolchain()
    run = run_elf(str(bmbuild.build("poweroff")), watchdog=4)
    assert "PASS: poweroff_request" in run.output, _describe(run)
    assert run.status == 0, _describe(run)
    assert run.wall < 2, f"the machine stopped only after {run.wall:.2f} s (the watchdog: 4 s)"


def test_hot_code_is_compiled_by_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the x86_64 backend hot regions are compiled by the compile worker while the guest goes on
    interpreting them: the mmu program (page tables changing under translated code, fence.i after code
    is written) still passes every check, with regions installed from the worker's answers."""
    _need_toolchain()
    if backends.default_name() != "x86_64":
        pytest.skip("the compile worker belongs to the x86_64 backend")
    from pyqemu.accel.tcg.backends.x86_64.backend import NativeBackend

    answers: list[object] = []
    install = NativeBackend._install

    def counted(self: NativeBackend, req: object, answer: object) -> object:
        answers.append(answer)
        return install(self, req, answer)  # type: ignore[arg-type]

    monkeypatch.setattr(NativeBackend, "_install", counted)
    run = run_elf(str(bmbuild.build("mmu")))
    assert run.status == 0, _describe(run)
    assert set(PROGRAMS["mmu"].names) <= run.passed
    assert answers and all(isinstance(a, tuple) for a in answers)  # compiled there, none failed
