// build: -lm
/*
 * compute: a deterministic CPU-bound mix for correctness and speed measurements.
 * Usage: compute [scale]   (default 1; work grows linearly with scale)
 * Each round runs
 *   - integer: xorshift64* PRNG, sieve of Eratosthenes, CRC-32 (bitwise), Collatz lengths
 *     (data-dependent branches), quicksort of a PRNG-filled array (recursion, swaps),
 *     16x16 integer matrix product, 128-bit multiply-high mixing
 *   - calls: recursive Fibonacci, a function-pointer dispatch table
 *   - floating point: Mandelbrot escape counts, a small n-body simulation, a polynomial
 *     series in float and double, integer<->float conversions
 * and folds everything into checksums printed at the end (same binary => same output on
 * any correct RV64GC implementation).
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t sieve(int n)
{
    static unsigned char comp[20001];
    memset(comp, 0, sizeof comp);
    uint64_t count = 0, sum = 0;
    for (int i = 2; i <= n; i++) {
        if (comp[i])
            continue;
        count++;
        sum += (uint64_t)i;
        for (int j = i * i; j <= n; j += i)
            comp[j] = 1;
    }
    return count << 32 | (sum & 0xffffffff);
}

static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

static uint64_t collatz(uint64_t start, int count)
{
    uint64_t total = 0;
    for (int i = 0; i < count; i++) {
        uint64_t x = start + (uint64_t)i, steps = 0;
        while (x != 1) {
            x = (x & 1) ? 3 * x + 1 : x >> 1;
            steps++;
        }
        total += steps;
    }
    return total;
}

static void quicksort(int64_t *a, int lo, int hi)
{
    while (lo < hi) {
        int64_t pivot = a[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                int64_t t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
}

static uint64_t matmul(void)
{
    static int32_t a[16][16], b[16][16];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            a[i][j] = (int32_t)(rng() % 2001) - 1000;
            b[i][j] = (int32_t)(rng() % 2001) - 1000;
        }
    uint64_t h = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            int64_t s = 0;
            for (int k = 0; k < 16; k++)
                s += (int64_t)a[i][k] * b[k][j];
            h = mix(h, (uint64_t)s);
        }
    return h;
}

static uint64_t mulhi_mix(int n)
{
    uint64_t h = 0;
    for (int i = 0; i < n; i++) {
        unsigned __int128 p = (unsigned __int128)rng() * rng();
        __int128 q = (__int128)(int64_t)rng() * (int64_t)rng();
        h = mix(h, (uint64_t)(p >> 64) ^ (uint64_t)(q >> 64) ^ (uint64_t)((uint64_t)rng() / ((rng() >> 40) | 1)));
    }
    return h;
}

static uint64_t fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint64_t op_add(uint64_t a, uint64_t b) { return a + b; }
static uint64_t op_xor(uint64_t a, uint64_t b) { return a ^ (b << 1); }
static uint64_t op_mul(uint64_t a, uint64_t b) { return a * (b | 1); }
static uint64_t op_rot(uint64_t a, uint64_t b) { return (a << (b & 63)) | (a >> ((64 - (b & 63)) & 63)); }
static uint64_t (*const ops[4])(uint64_t, uint64_t) = {op_add, op_xor, op_mul, op_rot};

static uint64_t dispatch(int n)
{
    uint64_t acc = 1;
    for (int i = 0; i < n; i++) {
        uint64_t r = rng();
        acc = ops[r & 3](acc, r >> 2);
    }
    return acc;
}

static uint64_t mandelbrot(int w, int h, int maxit)
{
    uint64_t total = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double cr = -2.0 + 2.5 * x / w, ci = -1.25 + 2.5 * y / h;
            double zr = 0, zi = 0;
            int it = 0;
            while (it < maxit && zr * zr + zi * zi < 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                it++;
            }
            total += (uint64_t)it * (uint64_t)(x + 1);
        }
    return total;
}

struct body {
    double x, y, z, vx, vy, vz, m;
};

static double nbody(int steps)
{
    struct body b[5] = {
        {0, 0, 0, 0, 0, 0, 39.47841760435743},
        {4.84, -1.16, -0.10, 0.606, 2.81, -0.02, 0.037},
        {8.34, 4.12, -0.40, -1.01, 1.82, 0.008, 0.011},
        {12.89, -15.11, -0.22, 1.08, 0.868, -0.01, 0.0017},
        {15.37, -25.91, 0.17, 0.979, 0.594, -0.034, 0.002},
    };
    const double dt = 0.01;
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < 5; i++)
            for (int j = i + 1; j < 5; j++) {
                double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
                double d2 = dx * dx + dy * dy + dz * dz;
                double mag = dt / (d2 * sqrt(d2));
                b[i].vx -= dx * b[j].m * mag;
                b[i].vy -= dy * b[j].m * mag;
                b[i].vz -= dz * b[j].m * mag;
                b[j].vx += dx * b[i].m * mag;
                b[j].vy += dy * b[i].m * mag;
                b[j].vz += dz * b[i].m * mag;
            }
        for (int i = 0; i < 5; i++) {
            b[i].x += dt * b[i].vx;
            b[i].y += dt * b[i].vy;
            b[i].z += dt * b[i].vz;
        }
    }
    double e = 0;
    for (int i = 0; i < 5; i++)
        e += 0.5 * b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
    return e;
}

static double series(int n)
{
    double s = 0;
    float f = 0;
    for (int k = 1; k <= n; k++) {
        double t = 1.0 / ((double)k * k);
        s += (k & 1) ? t : -t;
        f += 1.0f / (float)k;
        s += (double)(int64_t)(f * 1000.0f) * 1e-9;
    }
    return s + f;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;

    uint64_t h_int = 0, h_call = 0, h_fp = 0;
    static int64_t arr[2000];
    static unsigned char buf[2048];
    for (int round = 0; round < scale; round++) {
        h_int = mix(h_int, sieve(5000 + round % 7 * 100));
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (unsigned char)rng();
        h_int = mix(h_int, crc32(buf, sizeof buf));
        h_int = mix(h_int, collatz(27 + (uint64_t)round, 60));
        for (int i = 0; i < 2000; i++)
            arr[i] = (int64_t)rng() >> (i & 31);
        quicksort(arr, 0, 1999);
        int sorted = 1;
        for (int i = 1; i < 2000; i++)
            sorted &= arr[i - 1] <= arr[i];
        h_int = mix(h_int, (uint64_t)arr[1000] ^ (uint64_t)sorted);
        h_int = mix(h_int, matmul());
        h_int = mix(h_int, mulhi_mix(200));

        h_call = mix(h_call, fib(16 + round % 3));
        h_call = mix(h_call, dispatch(2000));

        h_fp = mix(h_fp, mandelbrot(24, 16, 64));
        h_fp = mix(h_fp, dbits(nbody(100)));
        h_fp = mix(h_fp, dbits(series(1000)));
    }
    printf("scale %d\n", scale);
    printf("integer checksum  %016" PRIx64 "\n", h_int);
    printf("calls checksum    %016" PRIx64 "\n", h_call);
    printf("float checksum    %016" PRIx64 "\n", h_fp);
    printf("nbody energy      %.12f\n", nbody(100));
    printf("combined          %016" PRIx64 "\n", mix(mix(h_int, h_call), h_fp));
    printf("OK compute\n");
    return 0;
}
