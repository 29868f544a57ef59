// build: -march=rv64gc_zba_zbb_zbs
/*
 * int_ops: RV64IM integer semantics plus the Zba/Zbb/Zbs bit-manipulation extensions.
 *   - add/sub/mul wrap-around, mulh/mulhsu/mulhu high halves
 *   - div/divu/rem/remu and the W forms, including the architecturally defined results for
 *     division by zero (quotient all ones, remainder = dividend) and signed overflow
 *     (INT_MIN / -1 = INT_MIN, remainder 0).  These use inline asm so C's undefined behaviour
 *     cannot interfere.
 *   - shifts with register amounts >= XLEN (only the low 6 / 5 bits count), sra vs srl,
 *     W ops (addw/subw/sllw/srlw/sraw) sign-extending their 32-bit results
 *   - slt/sltu/sltiu comparisons, lui/auipc-sized constants
 *   - Zbb: clz/ctz/cpop (and W forms) via __builtin_clz/ctz/popcount, min/max/minu/maxu,
 *     andn/orn/xnor, rol/ror, rev8, orc.b, sext.b/sext.h/zext.h
 *   - Zba: sh1add/sh2add/sh3add, add.uw, the .uw forms, slli.uw
 *   - Zbs: bset/bclr/binv/bext and immediate forms
 * Every result is printed in hex; a final digest of all results is printed too.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

static uint64_t digest = 0xcbf29ce484222325ull;

static void show(const char *name, uint64_t v)
{
    printf("%-22s %016" PRIx64 "\n", name, v);
    for (int i = 0; i < 8; i++) {
        digest ^= (v >> (8 * i)) & 0xff;
        digest *= 0x100000001b3ull;
    }
}

#define R2(insn, a, b)                                                                 \
    ({                                                                                 \
        uint64_t _r;                                                                   \
        __asm__ volatile(insn " %0, %1, %2" : "=r"(_r) : "r"((uint64_t)(a)), "r"((uint64_t)(b))); \
        _r;                                                                            \
    })
#define R1(insn, a)                                                                    \
    ({                                                                                 \
        uint64_t _r;                                                                   \
        __asm__ volatile(insn " %0, %1" : "=r"(_r) : "r"((uint64_t)(a)));              \
        _r;                                                                            \
    })
#define RI(insn, a, imm)                                                               \
    ({                                                                                 \
        uint64_t _r;                                                                   \
        __asm__ volatile(insn " %0, %1, %2" : "=r"(_r) : "r"((uint64_t)(a)), "i"(imm)); \
        _r;                                                                            \
    })

/* Values the compiler cannot constant-fold. */
static volatile uint64_t v_big = 0x8000000000000000ull, v_m1 = ~0ull, v_zero = 0, v_seven = 7;
static volatile uint64_t v_pat = 0x0123456789abcdefull, v_pat2 = 0xfedcba9876543210ull;
static volatile uint32_t v_w = 0x80000000u;
static volatile int v_shift = 65;

int main(void)
{
    uint64_t big = v_big, m1 = v_m1, zero = v_zero, seven = v_seven, pat = v_pat, pat2 = v_pat2;

    /* --- basic arithmetic --- */
    show("add wrap", big + big);
    show("sub wrap", zero - seven);
    show("mul", pat * pat2);
    show("mul signed", (uint64_t)((int64_t)pat * (int64_t)-3));
    show("mulh", R2("mulh", pat2, pat));
    show("mulhu", R2("mulhu", pat2, pat));
    show("mulhsu", R2("mulhsu", m1, pat));
    show("mulhsu neg", R2("mulhsu", big, m1));
    show("mulw", R2("mulw", 0x7fffffff, 3));

    /* --- division: normal, by zero, overflow --- */
    show("div", R2("div", (uint64_t)-100, 7));
    show("rem", R2("rem", (uint64_t)-100, 7));
    show("divu", R2("divu", (uint64_t)-100, 7));
    show("remu", R2("remu", (uint64_t)-100, 7));
    show("div by 0", R2("div", pat, zero));
    show("divu by 0", R2("divu", pat, zero));
    show("rem by 0", R2("rem", pat2, zero));
    show("remu by 0", R2("remu", pat2, zero));
    show("div overflow", R2("div", big, m1));
    show("rem overflow", R2("rem", big, m1));
    show("divw", R2("divw", 0xffffffff00000064ull, 0xfffffff9ull)); /* 100 / -7 */
    show("remw", R2("remw", 0x12345678ffffff9cull, 7));             /* -100 % 7 */
    show("divuw", R2("divuw", 0xdeadbeef80000000ull, 3));
    show("remuw", R2("remuw", 0xdeadbeef80000001ull, 3));
    show("divw by 0", R2("divw", 0x1234567812345678ull, zero));
    show("divuw by 0", R2("divuw", 0x1234567812345678ull, zero));
    show("remw by 0", R2("remw", 0x12345678f2345678ull, zero));
    show("remuw by 0", R2("remuw", 0x12345678f2345678ull, zero));
    show("divw overflow", R2("divw", 0x80000000ull, m1));
    show("remw overflow", R2("remw", 0x80000000ull, m1));
    /* C-level division (compiler-generated div/rem) */
    int64_t a = -(int64_t)pat, b = (int64_t)seven;
    show("C div", (uint64_t)(a / b));
    show("C mod", (uint64_t)(a % b));
    show("C udiv", pat2 / seven);
    show("C umod", pat2 % seven);

    /* --- shifts --- */
    int sh = v_shift;
    show("sll 65 (=1)", R2("sll", pat, sh));
    show("srl 65 (=1)", R2("srl", big, sh));
    show("sra 65 (=1)", R2("sra", big, sh));
    show("sra 63", R2("sra", big, 63));
    show("sllw 33 (=1)", R2("sllw", 0x40000000ull, sh - 32));
    show("srlw", R2("srlw", 0xffffffff80000000ull, 4));
    show("sraw", R2("sraw", 0x0000000080000000ull, 4));
    show("slliw", RI("slliw", 0x1ull, 31));
    show("srliw 0", RI("srliw", 0xffffffff80000000ull, 0));
    show("sraiw", RI("sraiw", 0x7fffffffull, 30));
    show("C shifts", (pat << (sh & 63)) ^ (pat2 >> (sh & 31)) ^ (uint64_t)((int64_t)pat2 >> 7));

    /* --- 32-bit W ops --- */
    show("addw overflow", R2("addw", 0x7fffffffull, 1));
    show("subw", R2("subw", 0, 1));
    show("addiw", RI("addiw", 0xffffffff7fffffffull, 1));
    uint32_t w = v_w;
    show("C int32 wrap", (uint64_t)(int64_t)(int32_t)(w + w - 1u));
    show("C uint32 mul", (uint64_t)(w * 3u + 0xdeadu));

    /* --- comparisons --- */
    show("slt", R2("slt", big, 1));
    show("sltu", R2("sltu", big, 1));
    show("sltiu -1", RI("sltiu", 5, -1)); /* immediate sign-extended then compared unsigned */
    show("slti", RI("slti", (uint64_t)-5, -4));

    /* --- constants --- */
    uint64_t lui;
    __asm__ volatile("lui %0, 0x80000" : "=r"(lui));
    show("lui", lui);
    show("li 64-bit", pat ^ 0x5555aaaa5555aaaaull);

    /* --- Zbb --- */
    show("clz", (uint64_t)__builtin_clzll(pat));
    show("ctz", (uint64_t)__builtin_ctzll(pat2));
    show("cpop", (uint64_t)__builtin_popcountll(pat2));
    show("clzw", (uint64_t)__builtin_clz((uint32_t)pat));
    show("ctzw", (uint64_t)__builtin_ctz((uint32_t)(pat2 >> 4) << 3));
    show("cpopw", (uint64_t)__builtin_popcount((uint32_t)pat));
    show("clz(0)", R1("clz", zero));
    show("ctz(0)", R1("ctz", zero));
    show("clzw(0)", R1("clzw", zero));
    show("ctzw(0)", R1("ctzw", 0xffffffff00000000ull));
    show("min", R2("min", big, seven));
    show("minu", R2("minu", big, seven));
    show("max", R2("max", big, m1));
    show("maxu", R2("maxu", big, m1));
    show("andn", R2("andn", pat, pat2));
    show("orn", R2("orn", pat, pat2));
    show("xnor", R2("xnor", pat, pat2));
    show("rol", R2("rol", pat, 68));
    show("ror", R2("ror", pat, 12));
    show("rori", RI("rori", pat, 60));
    show("rolw", R2("rolw", pat, 8));
    show("rorw", R2("rorw", pat, 36));
    show("roriw", RI("roriw", pat2, 1));
    show("rev8", R1("rev8", pat));
    show("orc.b", R1("orc.b", 0x0001000000ff0010ull));
    show("sext.b", R1("sext.b", 0x1280ull));
    show("sext.h", R1("sext.h", 0x18000ull));
    show("zext.h", R1("zext.h", m1));
    show("C bswap", __builtin_bswap64(pat2));
    show("C rotate", (pat << 13) | (pat >> 51));

    /* --- Zba --- */
    show("sh1add", R2("sh1add", pat, seven));
    show("sh2add", R2("sh2add", pat, seven));
    show("sh3add", R2("sh3add", pat, seven));
    show("add.uw", R2("add.uw", m1, seven));
    show("sh1add.uw", R2("sh1add.uw", m1, seven));
    show("sh2add.uw", R2("sh2add.uw", big | 0x80000001ull, seven));
    show("sh3add.uw", R2("sh3add.uw", pat, seven));
    show("slli.uw", RI("slli.uw", pat2, 4));
    show("zext.w", R1("zext.w", pat2));
    uint64_t arr[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    volatile uint32_t idx = 5;
    show("C index", arr[idx] + arr[(idx + 2) & 7]);

    /* --- Zbs --- */
    show("bset", R2("bset", zero, 63));
    show("bclr", R2("bclr", m1, 64 + 3)); /* index taken mod 64 */
    show("binv", R2("binv", pat, 0));
    show("bext", R2("bext", pat, 5));
    show("bseti", RI("bseti", zero, 40));
    show("bclri", RI("bclri", m1, 63));
    show("binvi", RI("binvi", pat, 62));
    show("bexti", RI("bexti", pat2, 63));
    volatile unsigned bit = 37;
    show("C bit ops", ((pat >> bit) & 1) | (pat2 | (1ull << bit)) | (pat & ~(1ull << (bit - 30))));

    printf("digest %016" PRIx64 "\n", digest);
    printf("OK int_ops\n");
    return 0;
}
