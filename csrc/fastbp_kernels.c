/* Instantiates the kernels of fastbp_kernels_impl.h for double and float. */
#include <math.h>
#include <float.h>
#include <string.h>

#include "fastbp_kernels.h"

#define REAL double
#define NAME(f) f##_d
#define EXP exp
#define LOG log
#define TANH tanh
#define TINY DBL_MIN
#include "fastbp_kernels_impl.h"
#undef REAL
#undef NAME
#undef EXP
#undef LOG
#undef TANH
#undef TINY

#define REAL float
#define NAME(f) f##_s
#define EXP expf
#define LOG logf
#define TANH tanhf
#define TINY FLT_MIN
#include "fastbp_kernels_impl.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
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
