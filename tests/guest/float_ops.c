// build: -lm -frounding-math
/*
 * float_ops: RV64FD semantics.
 *   - float/double + - * / and printf of doubles (%a, %.17g, %e, %f, %g) incl. -0, inf, nan,
 *     subnormals
 *   - fma()/fmaf() (fmadd) and fmsub/fnmadd/fnmsub, sqrt/sqrtf
 *   - NaN handling: RISC-V produces the canonical NaN (0x7ff8000000000000 / 0x7fc00000) and
 *     does not propagate payloads; fmin/fmax with NaN and signed zeros; NaN-boxing of
 *     single-precision values in the 64-bit registers; fclass
 *   - float<->int conversions with saturation (NaN, +-inf, out of range, negative->unsigned)
 *     for fcvt.{w,wu,l,lu}.{s,d}, static rounding modes (rne/rtz/rdn/rup/rmm)
 *   - dynamic rounding via fesetround() and exception flags via fetestexcept() / frflags
 *   - libm functions (exp, log, sin, cos, pow, atan2) printed with limited precision
 */
#include <fenv.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static volatile double vd_one = 1.0, vd_three = 3.0, vd_zero = 0.0, vd_two = 2.0, vd_tenth = 0.1;
static volatile float vf_one = 1.0f, vf_three = 3.0f;

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Goes through a volatile so the compiler cannot constant-fold operations on the result. */
static double bitsd(uint64_t u)
{
    volatile uint64_t v = u;
    uint64_t w = v;
    double d;
    memcpy(&d, &w, 8);
    return d;
}

/* Single instructions, so neither constant folding nor CSE can hide the runtime behaviour. */
#define OP2(insn, a, b)                                                                   \
    ({                                                                                    \
        double _r;                                                                        \
        __asm__ volatile(insn " %0, %1, %2" : "=f"(_r) : "f"((double)(a)), "f"((double)(b))); \
        _r;                                                                               \
    })
#define OP2S(insn, a, b)                                                                  \
    ({                                                                                    \
        float _r;                                                                         \
        __asm__ volatile(insn " %0, %1, %2" : "=f"(_r) : "f"((float)(a)), "f"((float)(b))); \
        _r;                                                                               \
    })
#define OP1(insn, a)                                                                      \
    ({                                                                                    \
        double _r;                                                                        \
        __asm__ volatile(insn " %0, %1" : "=f"(_r) : "f"((double)(a)));                   \
        _r;                                                                               \
    })

static void flags(const char *what)
{
    int f = fetestexcept(FE_ALL_EXCEPT);
    printf("flags %-24s %s%s%s%s%s%s\n", what, f & FE_INVALID ? " NV" : "", f & FE_DIVBYZERO ? " DZ" : "",
           f & FE_OVERFLOW ? " OF" : "", f & FE_UNDERFLOW ? " UF" : "", f & FE_INEXACT ? " NX" : "",
           f ? "" : " none");
    feclearexcept(FE_ALL_EXCEPT);
}

#define CVT(insn, rm, x)                                                                  \
    ({                                                                                    \
        int64_t _r;                                                                       \
        __asm__ volatile(insn " %0, %1, " rm : "=r"(_r) : "f"(x));                        \
        _r;                                                                               \
    })

static void cvt_d(const char *name, double x)
{
    feclearexcept(FE_ALL_EXCEPT);
    printf("cvt %-8s w=%" PRId64 " wu=%" PRIx64 " l=%" PRId64 " lu=%" PRIx64, name,
           CVT("fcvt.w.d", "rtz", x), CVT("fcvt.wu.d", "rtz", x), CVT("fcvt.l.d", "rtz", x),
           CVT("fcvt.lu.d", "rtz", x));
    int f = fetestexcept(FE_ALL_EXCEPT);
    printf(" [%s%s]\n", f & FE_INVALID ? "NV" : "", f & FE_INEXACT ? "NX" : "");
    feclearexcept(FE_ALL_EXCEPT);
}

static void cvt_s(const char *name, float x)
{
    feclearexcept(FE_ALL_EXCEPT);
    printf("cvt.s %-6s w=%" PRId64 " wu=%" PRIx64 " l=%" PRId64 " lu=%" PRIx64, name,
           CVT("fcvt.w.s", "rtz", x), CVT("fcvt.wu.s", "rtz", x), CVT("fcvt.l.s", "rtz", x),
           CVT("fcvt.lu.s", "rtz", x));
    int f = fetestexcept(FE_ALL_EXCEPT);
    printf(" [%s%s]\n", f & FE_INVALID ? "NV" : "", f & FE_INEXACT ? "NX" : "");
    feclearexcept(FE_ALL_EXCEPT);
}

static void rounding(const char *name, double x)
{
    printf("round %-5s rne=%" PRId64 " rtz=%" PRId64 " rdn=%" PRId64 " rup=%" PRId64 " rmm=%" PRId64 "\n", name,
           CVT("fcvt.l.d", "rne", x), CVT("fcvt.l.d", "rtz", x), CVT("fcvt.l.d", "rdn", x),
           CVT("fcvt.l.d", "rup", x), CVT("fcvt.l.d", "rmm", x));
}

static unsigned fclass_d(double x)
{
    uint64_t r;
    __asm__ volatile("fclass.d %0, %1" : "=r"(r) : "f"(x));
    return (unsigned)r;
}

int main(void)
{
    double one = vd_one, three = vd_three, zero = vd_zero, two = vd_two, tenth = vd_tenth;
    float fone = vf_one, fthree = vf_three;

    /* --- arithmetic and printing --- */
    printf("1/3        %.17g %a\n", one / three, one / three);
    printf("1/3f       %.9g %a\n", (double)(fone / fthree), (double)(fone / fthree));
    printf("0.1*3      %.17g\n", tenth * three);
    printf("0.1+0.2    %.17g\n", tenth + two * tenth);
    printf("2^0.5      %.17g\n", sqrt(two));
    printf("sqrtf(2)   %.9g\n", (double)sqrtf((float)two));
    printf("fmt        %e %f %g %g %g\n", 12345.678 * one, -0.5 * one, 1e300 * one, 1e-300 * one, 100.0 * one);
    printf("specials   %g %g %g %g %.17g\n", -zero, one / zero, -one / zero, sqrt(-one) * 0 + INFINITY - INFINITY,
           5e-324 * one);
    printf("subnormal  %a %a\n", DBL_MIN / 4 * one, (double)(FLT_MIN / 8 * fone));
    printf("big        %.17g %.17g\n", DBL_MAX * one, (double)(FLT_MAX * fone));
    double acc = 0;
    for (int i = 1; i <= 50; i++)
        acc += one / (i * (double)i);
    printf("sum 1/i^2  %.17g\n", acc);
    printf("float->dbl %.17g\n", (double)(float)(tenth));
    printf("dbl->float %a\n", (double)(float)(one / three));
    printf("int->dbl   %.17g %.9g\n", (double)(int64_t)(9007199254740993ll * (int64_t)one),
           (double)(float)(16777217 * (int)one));

    /* --- fused multiply-add --- */
    double e = ldexp(1.0, -30) * one; /* (1+e)(1-e) = 1 - 2^-60: only a fused op keeps the 2^-60 */
    printf("fma        %a (unfused %a)\n", fma(one + e, one - e, -one),
           OP2("fsub.d", OP2("fmul.d", one + e, one - e), one));
    printf("fmaf       %a\n", (double)fmaf(fone + 0x1p-20f, fone - 0x1p-20f, -fone));
    {
        double r1, r2, r3;
        __asm__ volatile("fmsub.d %0, %1, %2, %3" : "=f"(r1) : "f"(two), "f"(three), "f"(one));
        __asm__ volatile("fnmadd.d %0, %1, %2, %3" : "=f"(r2) : "f"(two), "f"(three), "f"(one));
        __asm__ volatile("fnmsub.d %0, %1, %2, %3" : "=f"(r3) : "f"(two), "f"(three), "f"(one));
        printf("fmsub=%g fnmadd=%g fnmsub=%g\n", r1, r2, r3);
    }

    /* --- NaNs --- */
    double qnan_payload = bitsd(0x7ff8000000012345ull);
    double snan = bitsd(0x7ff0000000000001ull);
    feclearexcept(FE_ALL_EXCEPT);
    printf("0/0 bits          %016" PRIx64 "\n", dbits(zero / zero));
    printf("sqrt(-1) bits     %016" PRIx64 "\n", dbits(sqrt(-one)));
    printf("sqrtf(-1) bits    %08" PRIx32 "\n", fbits(sqrtf(-fone)));
    printf("nan+1 bits        %016" PRIx64 "\n", dbits(qnan_payload + one));
    printf("-nan*1 bits       %016" PRIx64 "\n", dbits(bitsd(0xfff8000000000000ull) * one));
    printf("inf-inf bits      %016" PRIx64 "\n", dbits(one / zero - one / zero));
    printf("(float)nan bits   %08" PRIx32 "\n", fbits((float)qnan_payload));
    printf("(double)snanf     %016" PRIx64 "\n", dbits((double)(float)snan));
    printf("printf nan        %f %f\n", zero / zero, -(zero / zero));
    flags("after nan ops");
    printf("fmin(nan,1)=%g fmax(1,nan)=%g fmin.d(nan,nan) bits %016" PRIx64 "\n", fmin(qnan_payload, one),
           fmax(one, qnan_payload), dbits(OP2("fmin.d", qnan_payload, qnan_payload)));
    printf("fmin(-0,+0)=%g fmax(-0,+0)=%g\n", fmin(-zero, zero), fmax(-zero, zero));
    flags("fmin/fmax quiet");
    printf("fmax(snan,1)=%g\n", fmax(snan, one));
    flags("fmax snan");
    printf("fmax.d(snan,1)=%g\n", OP2("fmax.d", snan, one));
    flags("fmax.d snan");
    printf("nan==nan %d nan<1 %d\n", qnan_payload == qnan_payload, qnan_payload < one);
    flags("compare qnan");
    {
        /* feq with a signalling NaN raises NV, feq with a quiet NaN does not. */
        uint64_t r;
        __asm__ volatile("feq.d %0, %1, %2" : "=r"(r) : "f"(qnan_payload), "f"(one));
        flags("feq qnan");
        __asm__ volatile("feq.d %0, %1, %2" : "=r"(r) : "f"(snan), "f"(one));
        flags("feq snan");
    }
    {
        /* NaN boxing: a 64-bit pattern that is not a valid boxed float reads as canonical NaN. */
        double boxed_bad = bitsd(0x000000003f800000ull);   /* 1.0f but upper bits not all ones */
        double boxed_ok = bitsd(0xffffffff3f800000ull);    /* properly boxed 1.0f */
        float r1, r2;
        __asm__ volatile("fadd.s %0, %1, %1" : "=f"(r1) : "f"(boxed_bad));
        __asm__ volatile("fadd.s %0, %1, %1" : "=f"(r2) : "f"(boxed_ok));
        double raw;
        float x = fthree;
        __asm__ volatile("fmv.d %0, %1" : "=f"(raw) : "f"(x));
        printf("nanbox bad=%08" PRIx32 " ok=%08" PRIx32 " reg=%016" PRIx64 "\n", fbits(r1), fbits(r2), dbits(raw));
        uint64_t xw;
        __asm__ volatile("fmv.x.w %0, %1" : "=r"(xw) : "f"(-fthree));
        printf("fmv.x.w sign-extends %016" PRIx64 "\n", xw);
    }
    feclearexcept(FE_ALL_EXCEPT);
    printf("fclass -inf=%03x -1=%03x -min/2=%03x -0=%03x +0=%03x min/2=%03x 1=%03x inf=%03x snan=%03x qnan=%03x\n",
           fclass_d(-one / zero), fclass_d(-one), fclass_d(-DBL_MIN / 2 * one), fclass_d(-zero), fclass_d(zero),
           fclass_d(DBL_MIN / 2 * one), fclass_d(one), fclass_d(one / zero), fclass_d(snan),
           fclass_d(qnan_payload));
    printf("copysign %g %g fabs %g\n", copysign(three, -zero), copysign(-three, one), fabs(-three));
    feclearexcept(FE_ALL_EXCEPT);

    /* --- conversions with saturation --- */
    cvt_d("1.9", 1.9 * one);
    cvt_d("-1.9", -1.9 * one);
    cvt_d("-0.5", -0.5 * one);
    cvt_d("nan", zero / zero);
    cvt_d("+inf", one / zero);
    cvt_d("-inf", -one / zero);
    cvt_d("3e9", 3e9 * one);
    cvt_d("-3e9", -3e9 * one);
    cvt_d("1e19", 1e19 * one);
    cvt_d("2^63", 0x1p63 * one);
    cvt_d("-2^63", -0x1p63 * one);
    cvt_d("2^64", 0x1p64 * one);
    cvt_s("nan", (float)(zero / zero));
    cvt_s("-inf", (float)(-one / zero));
    cvt_s("5e9", 5e9f * fone);
    cvt_s("-7.5", -7.5f * fone);
    rounding("2.5", 2.5 * one);
    rounding("-2.5", -2.5 * one);
    rounding("3.5", 3.5 * one);
    rounding("-0.4", -0.4 * one);
    {
        double d;
        int64_t big = INT64_MAX;
        __asm__ volatile("fcvt.d.l %0, %1, rtz" : "=f"(d) : "r"(big));
        printf("fcvt.d.l rtz %a\n", d);
        __asm__ volatile("fcvt.d.l %0, %1, rup" : "=f"(d) : "r"(big));
        printf("fcvt.d.l rup %a\n", d);
        float f;
        __asm__ volatile("fcvt.s.wu %0, %1, rdn" : "=f"(f) : "r"((uint64_t)0xffffffffu));
        printf("fcvt.s.wu rdn %a\n", (double)f);
        __asm__ volatile("fcvt.s.d %0, %1, rup" : "=f"(f) : "f"(tenth));
        printf("fcvt.s.d rup %a\n", (double)f);
    }
    feclearexcept(FE_ALL_EXCEPT);

    /* --- dynamic rounding modes --- */
    static const struct {
        int mode;
        const char *name;
    } modes[] = {{FE_TONEAREST, "nearest"}, {FE_TOWARDZERO, "zero"}, {FE_DOWNWARD, "down"}, {FE_UPWARD, "up"}};
    for (unsigned i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (fesetround(modes[i].mode) != 0) {
            printf("fesetround %s failed\n", modes[i].name);
            continue;
        }
        double q = OP2("fdiv.d", one, three), nq = OP2("fdiv.d", -one, three);
        float qf = OP2S("fdiv.s", fone, fthree);
        double s = OP1("fsqrt.d", two);
        uint64_t frm;
        __asm__ volatile("frrm %0" : "=r"(frm));
        printf("mode %-7s frm=%" PRIu64 " get=%d 1/3=%a -1/3=%a 1/3f=%a sqrt2=%a rint(2.5)=%g rint(-2.5)=%g "
               "lrint(-3.5)=%ld nearbyint(0.5)=%g\n",
               modes[i].name, frm, fegetround() == modes[i].mode, q, nq, (double)qf, s, rint(2.5 * one),
               rint(-2.5 * one), lrint(-3.5 * one), nearbyint(0.5 * one));
    }
    fesetround(FE_TONEAREST);

    /* --- exception flags --- */
    feclearexcept(FE_ALL_EXCEPT);
    flags("none");
    volatile double r;
    r = OP2("fadd.d", one, one);
    flags("1+1");
    r = OP2("fdiv.d", one, three);
    flags("1/3");
    r = OP2("fdiv.d", one, zero);
    flags("1/0");
    r = OP2("fdiv.d", zero, zero);
    flags("0/0");
    r = OP1("fsqrt.d", -one);
    flags("sqrt(-1)");
    r = OP2("fmul.d", DBL_MAX, two);
    flags("DBL_MAX*2");
    r = OP2("fdiv.d", DBL_MIN, three);
    flags("DBL_MIN/3");
    r = OP2("fdiv.d", DBL_MIN, two);
    flags("DBL_MIN/2 (exact)");
    r = OP2("fsub.d", one / zero, one / zero);
    flags("inf-inf");
    r = OP2S("fmul.s", FLT_MAX, fthree);
    flags("FLT_MAX*3 (single)");
    r = OP2("fadd.d", bitsd(0x7ff0000000000001ull), one);
    flags("snan+1");
    (void)r;
    {
        uint64_t fflags;
        volatile float tiny = FLT_MIN * fone;
        volatile float t2 = tiny * tiny;
        (void)t2;
        __asm__ volatile("frflags %0" : "=r"(fflags));
        printf("frflags after FLT_MIN^2: %02" PRIx64 "\n", fflags);
        __asm__ volatile("fsflags %0" : : "r"((uint64_t)0x1f));
        flags("fsflags 0x1f");
        uint64_t fcsr;
        fesetround(FE_UPWARD);
        __asm__ volatile("csrr %0, fcsr" : "=r"(fcsr));
        printf("fcsr with rup: %02" PRIx64 "\n", fcsr);
        fesetround(FE_TONEAREST);
    }
    feclearexcept(FE_ALL_EXCEPT);
    feraiseexcept(FE_OVERFLOW | FE_INEXACT);
    flags("feraiseexcept OF|NX");

    /* --- libm (printed with 12 significant digits; correctly rounded to that precision) --- */
    printf("exp(1)=%.12g log(10)=%.12g sin(1)=%.12g cos(1)=%.12g pow(2,0.5)=%.12g atan2(1,1)=%.12g\n",
           exp(one), log(10 * one), sin(one), cos(one), pow(two, 0.5 * one), atan2(one, one));
    printf("floor=%g ceil=%g trunc=%g round=%g fmod=%g\n", floor(-2.5 * one), ceil(-2.5 * one),
           trunc(-2.5 * one), round(-2.5 * one), fmod(7.5 * one, two));
    feclearexcept(FE_ALL_EXCEPT);

    printf("OK float_ops\n");
    return 0;
}
