/*
 * selfmod: self-modifying and generated code, the classic translation-cache hazard.
 *   1. an RWX page: write "li a0, N; ret", call it, rewrite N, __builtin___clear_cache
 *      (riscv_flush_icache) and call again - 200 rewrites of the same address
 *   2. W^X: write into an RW page, mprotect to RX, call; mprotect RW, patch, RX, call
 *   3. code that patches an instruction later in its own basic block (sw + fence.i) and then
 *      executes the patched instruction
 *   4. 16-bit (RVC) generated code
 *   5. a 32-bit instruction straddling two pages, where only the half in the second page is
 *      rewritten (the translated block spans both pages)
 *   6. a tiny "JIT": 64 generated functions computing a*x + b at different offsets
 * Each step prints the values returned by the generated code; stale translations would
 * print the old values.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef long (*fn0)(void);
typedef long (*fn1)(long);

#define PAGE 4096

enum { A0 = 10, A1 = 11, T0 = 5, T1 = 6, RA = 1, ZERO = 0 };

static uint32_t enc_i(uint32_t op, uint32_t rd, uint32_t f3, uint32_t rs1, int32_t imm)
{
    return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static uint32_t enc_r(uint32_t op, uint32_t rd, uint32_t f3, uint32_t rs1, uint32_t rs2, uint32_t f7)
{
    return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static uint32_t enc_s(uint32_t op, uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm)
{
    uint32_t u = (uint32_t)imm & 0xfff;
    return (u >> 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 31) << 7 | op;
}
static uint32_t li(uint32_t rd, int32_t imm) { return enc_i(0x13, rd, 0, ZERO, imm); }      /* addi rd, x0, imm */
static uint32_t addi(uint32_t rd, uint32_t rs, int32_t imm) { return enc_i(0x13, rd, 0, rs, imm); }
static uint32_t mul(uint32_t rd, uint32_t a, uint32_t b) { return enc_r(0x33, rd, 0, a, b, 1); }
static const uint32_t RET = 0x00008067;     /* jalr x0, 0(ra) */
static const uint32_t FENCE_I = 0x0000100f;
static const uint32_t NOP = 0x00000013;
static const uint32_t AUIPC_T0 = 0x00000297; /* auipc t0, 0 */

static void sync_icache(void *start, size_t len)
{
    __builtin___clear_cache((char *)start, (char *)start + len);
}

int main(void)
{
    /* 1. RWX page, rewritten in place */
    uint32_t *rwx = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rwx == MAP_FAILED) {
        printf("RWX mmap failed\n");
        return 1;
    }
    rwx[0] = li(A0, 1);
    rwx[1] = RET;
    sync_icache(rwx, 8);
    long first = ((fn0)rwx)();
    rwx[0] = li(A0, 2);
    sync_icache(rwx, 8);
    long second = ((fn0)rwx)();
    printf("rwx: first call %ld, after rewrite %ld\n", first, second);
    long sum = 0;
    for (int i = 0; i < 200; i++) {
        rwx[0] = li(A0, i * 3 - 100);
        sync_icache(rwx, 4);
        sum += ((fn0)rwx)();
    }
    printf("rwx: 200 rewrites, sum of results %ld (expected %d)\n", sum, 3 * 199 * 200 / 2 - 100 * 200);

    /* 2. W^X with mprotect */
    uint32_t *wx = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    wx[0] = addi(A0, A0, 10); /* f(x) = x + 10 */
    wx[1] = RET;
    mprotect(wx, PAGE, PROT_READ | PROT_EXEC);
    sync_icache(wx, 8);
    long r1 = ((fn1)wx)(5);
    mprotect(wx, PAGE, PROT_READ | PROT_WRITE);
    wx[0] = mul(A0, A0, A0); /* f(x) = x * x */
    mprotect(wx, PAGE, PROT_READ | PROT_EXEC);
    sync_icache(wx, 8);
    long r2 = ((fn1)wx)(5);
    printf("w^x: f(5) = %ld, after patch f(5) = %ld\n", r1, r2);

    /* 3. patching later in the same block: f(word) stores word at offset 20 and runs it */
    uint32_t *sm = rwx + 64;
    sm[0] = AUIPC_T0;                   /*  0: t0 = &sm[0]            */
    sm[1] = enc_s(0x23, 2, T0, A0, 20); /*  4: sw a0, 20(t0)          */
    sm[2] = FENCE_I;                    /*  8: fence.i                */
    sm[3] = NOP;                        /* 12                         */
    sm[4] = li(A1, 0);                  /* 16: a1 = 0                 */
    sm[5] = li(A0, 111);                /* 20: patched at run time    */
    sm[6] = enc_r(0x33, A0, 0, A0, A1, 0); /* 24: a0 += a1            */
    sm[7] = RET;                        /* 28                         */
    sync_icache(sm, 32);
    long s1 = ((fn1)sm)(li(A0, 222));
    long s2 = ((fn1)sm)(li(A0, 333));
    long s3 = ((fn1)sm)(addi(A0, ZERO, -7));
    printf("same-block patch: %ld %ld %ld\n", s1, s2, s3);

    /* 4. compressed instructions: c.li a0, imm; c.jr ra */
    uint16_t *c = (uint16_t *)(rwx + 128);
    c[0] = 0x4515; /* c.li a0, 5 */
    c[1] = 0x8082; /* c.jr ra */
    sync_icache(c, 4);
    long c1 = ((fn0)c)();
    c[0] = 0x5579; /* c.li a0, -2 */
    sync_icache(c, 4);
    long c2 = ((fn0)c)();
    printf("rvc: %ld then %ld\n", c1, c2);

    /* 5. an instruction straddling a page boundary; rewrite only its second half */
    unsigned char *two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint16_t *e = (uint16_t *)(two + PAGE - 4);
    uint32_t ins = li(A0, 0x123);
    e[0] = 0x0001;              /* c.nop at PAGE-4 (entry point) */
    e[1] = (uint16_t)ins;       /* low half of li at PAGE-2      */
    e[2] = (uint16_t)(ins >> 16); /* high half in the next page  */
    e[3] = 0x8082;              /* c.jr ra                        */
    sync_icache(e, 8);
    long p1 = ((fn0)e)();
    e[2] = (uint16_t)(li(A0, 0x456) >> 16); /* the immediate lives entirely in the high half */
    sync_icache(two + PAGE, 2);
    long p2 = ((fn0)e)();
    printf("page-straddling instruction: %#lx then %#lx\n", p1, p2);

    /* 6. a tiny JIT: 64 functions a*x + b at different offsets of a fresh page */
    uint32_t *jit = (uint32_t *)(two + PAGE + 64);
    long total = 0;
    for (int k = 0; k < 64; k++) {
        uint32_t *f = jit + k * 4;
        f[0] = li(T1, k + 1);           /* t1 = a        */
        f[1] = mul(A0, A0, T1);         /* a0 = x * a    */
        f[2] = addi(A0, A0, 1000 - k);  /* a0 += b       */
        f[3] = RET;
    }
    sync_icache(jit, 64 * 16);
    for (int k = 0; k < 64; k++)
        total += ((fn1)(jit + k * 4))(k);
    long want = 0;
    for (int k = 0; k < 64; k++)
        want += (long)k * (k + 1) + 1000 - k;
    printf("jit: total %ld (expected %ld)\n", total, want);

    int ok = first == 1 && second == 2 && sum == 3 * 199 * 200 / 2 - 100 * 200 && r1 == 15 && r2 == 25 &&
             s1 == 222 && s2 == 333 && s3 == -7 && c1 == 5 && c2 == -2 && p1 == 0x123 && p2 == 0x456 && total == want;
    printf("%s selfmod\n", ok ? "OK" : "FAIL");
    return ok ? 0 : 1;
}
