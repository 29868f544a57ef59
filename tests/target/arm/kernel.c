/* A freestanding integer workload for the A64 differential test (test_differential_unicorn.py):
 * compiled code exercises instruction forms random programs rarely combine (jump tables, calls through
 * pointers, recursion with stack frames, 128-bit multiplies, division, bit tricks, atomics).
 * _start calls kernel() and stops at a BRK with the checksum in x0. */
#include <stdint.h>

#define N 1024
static uint32_t a[N], b[N];
static int64_t counter;

static uint32_t __attribute__((noinline)) mix(uint32_t x, uint32_t y) {
    x ^= y + 0x9e3779b9u + (x << 6) + (x >> 2);
    return x * 2654435761u;
}

static uint64_t __attribute__((noinline)) fold(uint64_t x, uint64_t y) {
    unsigned __int128 p = (unsigned __int128)x * y;
    __int128 q = (__int128)(int64_t)x * (int64_t)y;
    return (uint64_t)(p >> 64) ^ (uint64_t)(q >> 64) ^ (uint64_t)p;
}

static int64_t __attribute__((noinline)) fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static uint64_t op0(uint64_t x) { return x * 3 + 1; }
static uint64_t op1(uint64_t x) { return x >> 1; }
static uint64_t op2(uint64_t x) { return __builtin_bswap64(x) ^ x; }
static uint64_t (*const ops[])(uint64_t) = {op0, op1, op2};

static uint64_t __attribute__((noinline)) classify(uint32_t v) {
    switch (v % 7) {
    case 0: return v / 3;
    case 1: return (uint64_t)__builtin_clz(v | 1) << 8;
    case 2: return (uint64_t)__builtin_ctzll((uint64_t)v << 20 | 1u << 31);
    case 3: return (int64_t)(int32_t)v / -5;
    case 4: return v % 1000;
    case 5: return (uint64_t)__builtin_clrsbll((int64_t)v << 17);
    default: return v & 0xff00ff;
    }
}

uint64_t kernel(int rounds) {
    uint64_t check = 0;
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) { seed = seed * 1103515245u + 12345u; a[i] = seed >> 8; }
    for (int r = 0; r < rounds; r++) {
        uint32_t h = r;
        for (int i = 0; i < N; i++) h = mix(h, a[i]);
        check += h;
        check = fold(check, h | 1) + ops[r % 3](check);
        __atomic_fetch_add(&counter, h & 0xff, __ATOMIC_SEQ_CST);
        int64_t expected = counter;
        __atomic_compare_exchange_n(&counter, &expected, expected ^ r, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
    }
    for (int i = 0; i < 256; i++) b[i] = a[i];
    for (int i = 1; i < 256; i++) {
        uint32_t key = b[i];
        int j = i - 1;
        while (j >= 0 && b[j] > key) { b[j + 1] = b[j]; j--; }
        b[j + 1] = key;
    }
    for (int i = 0; i < 256; i++) check = check * 31 + b[i] + classify(a[i]);
    return check + fib(15) + (uint64_t)counter;
}

void _start(void) {
    register uint64_t result asm("x0") = kernel(8);
    asm volatile("brk #0" : : "r"(result));
    for (;;) {
    }
}
