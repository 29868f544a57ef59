/* pyqemu's CPU benchmark guest: a fixed mix of integer arithmetic, memory traffic, branches, calls and
 * floating point.  Deterministic: prints a checksum so runs under pyqemu and qemu-riscv64 can be compared.
 * usage: cpubench [scale]   (scale 1 is about 20 million guest instructions on riscv64 -O2) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#define N 4096
static uint32_t a[N], b[N];
static double v[256];

static uint32_t __attribute__((noinline)) mix(uint32_t x, uint32_t y) {
    x ^= y + 0x9e3779b9u + (x << 6) + (x >> 2);
    return x * 2654435761u;
}

static void fill(uint32_t seed) {
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        a[i] = seed >> 8;
    }
}

static uint64_t sort_and_sum(void) {
    /* insertion sort on a small window: branches and memory */
    memcpy(b, a, sizeof(uint32_t) * 512);
    for (int i = 1; i < 512; i++) {
        uint32_t key = b[i];
        int j = i - 1;
        while (j >= 0 && b[j] > key) { b[j + 1] = b[j]; j--; }
        b[j + 1] = key;
    }
    uint64_t s = 0;
    for (int i = 0; i < 512; i++) s += b[i] * (uint64_t)(i + 1);
    return s;
}

static double fp_kernel(int rounds) {
    double acc = 0.0;
    for (int i = 0; i < 256; i++) v[i] = (double)(i + 1) * 0.5;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < 256; i++) {
            acc += v[i] * 1.0001 - acc / 4096.0;
            v[i] = v[i] * 0.999 + 0.001;
        }
    return acc;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    uint64_t check = 0;
    for (int s = 0; s < scale; s++) {
        fill(12345 + s);
        for (int r = 0; r < 280; r++) {
            uint32_t h = r;
            for (int i = 0; i < N; i++) h = mix(h, a[i]);
            check += h;
        }
        check += sort_and_sum();
        check += (uint64_t)(fp_kernel(80) * 1000.0);
    }
    printf("checksum %llu\n", (unsigned long long)check);
    return 0;
}
