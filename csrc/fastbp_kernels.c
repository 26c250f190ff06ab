/* Instantiates the kernels of fastbp_vector.h and fastbp_kernels_impl.h for
   double and float, and chooses the instruction set the vector kernels use. */
#include <math.h>
#include <float.h>
#include <string.h>

#include "fastbp_kernels.h"

/* The vector kernels are built three times on x86-64 with GCC or Clang --
   baseline, AVX2 + FMA and AVX-512 -- and fbp_init() picks the best one the
   processor runs; other platforms get the baseline build only. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FBP_X86_BUILDS 1
#endif

enum { FBP_ISA_BASE = 0, FBP_ISA_AVX2 = 1, FBP_ISA_AVX512 = 2 };
static int fbp_isa = FBP_ISA_BASE;
int fbp_vbytes = 0;

/* The scalar helpers must be inlined for the loops to vectorise. */
#if defined(__GNUC__) || defined(__clang__)
#define FBP_INLINE inline __attribute__((always_inline))
#else
#define FBP_INLINE inline
#endif

/* -- double -------------------------------------------------------------- */
#define REAL double
#define UINT uint64_t
#define MANT_BITS 52
#define EXP_BIAS 1023
#define EXP_MIN (-708.0)
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
/* Taylor terms to r^12: truncation below 2e-16 relative on |r| <= ln2/2.
   Evaluated by Estrin's scheme -- pairs of terms, then pairs of pairs with r^2,
   r^4 and r^8 -- whose chain of dependent operations is a third of Horner's
   rule's: a tiny network waits on each exponential in turn. */
static FBP_INLINE double exp_poly1_d(double r)
{
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double p0 = 1.0 + r * (1.0 / 2), p1 = 1.0 / 6 + r * (1.0 / 24);
    double p2 = 1.0 / 120 + r * (1.0 / 720), p3 = 1.0 / 5040 + r * (1.0 / 40320);
    double p4 = 1.0 / 362880 + r * (1.0 / 3628800);
    double p5 = 1.0 / 39916800 + r * (1.0 / 479001600);
    return (p0 + r2 * p1) + r4 * (p2 + r2 * p3) + r8 * (p4 + r2 * p5);
}
#define EXP_POLY1(r) exp_poly1_d(r)
#define EXP exp
#define FBP_OUTPUT_DELTA fbp_output_delta_d
#define FBP_TARGET
#define FBP_VBYTES 16
#define VNAME(f) f##_d_base
#include "fastbp_vector.h"
#undef FBP_TARGET
#undef FBP_VBYTES
#undef VNAME
#ifdef FBP_X86_BUILDS
#define FBP_TARGET __attribute__((target("avx2,fma")))
#define FBP_VBYTES 32
#define VNAME(f) f##_d_avx2
#include "fastbp_vector.h"
#undef FBP_TARGET
#undef FBP_VBYTES
#undef VNAME
#define FBP_TARGET __attribute__((target("avx512f,avx512dq,avx2,fma")))
#define FBP_VBYTES 64
#define VNAME(f) f##_d_avx512
#include "fastbp_vector.h"
#undef FBP_TARGET
#undef FBP_VBYTES
#undef VNAME
#define VNAME_AVX2(f) f##_d_avx2
#define VNAME_AVX512(f) f##_d_avx512
#else
#define VNAME_AVX2(f) f##_d_base
#define VNAME_AVX512(f) f##_d_base
#endif
#define VNAME_BASE(f) f##_d_base
#define NAME(f) f##_d
#define LOG log
#define SQRT sqrt
#define TINY DBL_MIN
#include "fastbp_kernels_impl.h"
#undef REAL
#undef UINT
#undef MANT_BITS
#undef EXP_BIAS
#undef EXP_MIN
#undef LN2_HI
#undef LN2_LO
#undef EXP_POLY1
#undef VNAME_BASE
#undef VNAME_AVX2
#undef VNAME_AVX512
#undef NAME
#undef LOG
#undef EXP
#undef FBP_OUTPUT_DELTA
#undef SQRT
#undef TINY

/* -- float --------------------------------------------------------------- */
#define REAL float
#define UINT uint32_t
#define MANT_BITS 23
#define EXP_BIAS 127
#define EXP_MIN (-87.0f)
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.428606765330187045e-06f
/* Taylor terms to r^7: truncation below 6e-9 relative on |r| <= ln2/2;
   Estrin's scheme as for double. */
static FBP_INLINE float exp_poly1_s(float r)
{
    float r2 = r * r, r4 = r2 * r2;
    float p0 = 1.0f + r * (1.0f / 2), p1 = 1.0f / 6 + r * (1.0f / 24);
    float p2 = 1.0f / 120 + r * (1.0f / 720);
    return (p0 + r2 * p1) + r4 * (p2 + r2 * (1.0f / 5040));
}
#define EXP_POLY1(r) exp_poly1_s(r)
#define EXP expf
#define FBP_OUTPUT_DELTA fbp_output_delta_s
#define FBP_TARGET
#define FBP_VBYTES 16
#define VNAME(f) f##_s_base
#include "fastbp_vector.h"
#undef FBP_TARGET
#undef FBP_VBYTES
#undef VNAME
#ifdef FBP_X86_BUILDS
#define FBP_TARGET __attribute__((target("avx2,fma")))
#define FBP_VBYTES 32
#define VNAME(f) f##_s_avx2
#include "fastbp_vector.h"
#undef FBP_TARGET
#undef FBP_VBYTES
#undef VNAME
#define FBP_TARGET __attribute__((target("avx512f,avx512dq,avx2,fma")))
#define FBP_VBYTES 64
#define VNAME(f) f##_s_avx512
#include "fastbp_vector.h"
#undef FBP_TARGET
#undef FBP_VBYTES
#undef VNAME
#define VNAME_AVX2(f) f##_s_avx2
#define VNAME_AVX512(f) f##_s_avx512
#else
#define VNAME_AVX2(f) f##_s_base
#define VNAME_AVX512(f) f##_s_base
#endif
#define VNAME_BASE(f) f##_s_base
#define NAME(f) f##_s
#define LOG logf
#define SQRT sqrtf
#define TINY FLT_MIN
#include "fastbp_kernels_impl.h"

void fbp_prefetch_rows(const void *src, const int64_t *idx, ptrdiff_t count,
                       ptrdiff_t row_bytes)
{
#if defined(__GNUC__) || defined(__clang__)
    const char *base = (const char *)src;
    for (ptrdiff_t i = 0; i < count; i++) {
        const char *row = base + (ptrdiff_t)idx[i] * row_bytes;
        for (ptrdiff_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(row + off, 0, 2);
    }
#else
    (void)src; (void)idx; (void)count; (void)row_bytes;
#endif
}

int fbp_init(int max_isa)
{
    int isa = FBP_ISA_BASE;
#ifdef FBP_X86_BUILDS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        isa = FBP_ISA_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) {
            isa = FBP_ISA_AVX512;
        }
    }
#endif
    fbp_isa = isa < max_isa ? isa : max_isa;
#if defined(__GNUC__) || defined(__clang__)
    fbp_vbytes = fbp_isa == FBP_ISA_AVX512 ? 64 : fbp_isa == FBP_ISA_AVX2 ? 32 : 16;
#endif
    return fbp_isa;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double fbp_uniform(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * 0x1.0p-53;
}

void fbp_shuffle(int64_t *order, ptrdiff_t n, uint64_t *state)
{
    for (ptrdiff_t i = n - 1; i > 0; i--) {
        ptrdiff_t j = (ptrdiff_t)(splitmix64(state) % (uint64_t)(i + 1));
        int64_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}
