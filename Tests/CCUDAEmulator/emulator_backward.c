// The emulated device's twins of the backward kernels (Sources/CCUDA/kernels_backward.h), matched by name,
// plain loops with the same arithmetic and the same summation order.
#include "cuda_api.h"
#include <math.h>
#include <string.h>

#define ARG(i, T) (*(T *)args[i])
#define PTR(i, T) ((T *)(uintptr_t)ARG(i, CUdeviceptr))

static void layernorm_backward(void **args) {
    float *dinp = PTR(0, float); const float *dout = PTR(1, float), *inp = PTR(2, float), *w = PTR(3, float);
    const float *mean = PTR(4, float), *rstd = PTR(5, float); long long n = ARG(6, long long); int c = ARG(7, int);
    for (long long r = 0; r < n; r++) {
        const float *x = inp + r * c, *g = dout + r * c;
        float m = mean[r], rs = rstd[r], a = 0, b = 0;
        for (int k = 0; k < c; k++) { float dn = g[k] * w[k]; a += dn; b += dn * (x[k] - m) * rs; }
        a /= (float)c; b /= (float)c;
        for (int k = 0; k < c; k++) { float nk = (x[k] - m) * rs; dinp[r * c + k] += (g[k] * w[k] - a - nk * b) * rs; }
    }
}

static void column_sums(const char *k, void **args) {
    if (!strcmp(k, "colsum_part")) {
        float *part = PTR(0, float); const float *x = PTR(1, float);
        long long n = ARG(2, long long), c = ARG(3, long long); int per = ARG(4, int);
        for (long long g = 0; g * per < n; g++) for (long long j = 0; j < c; j++) {
            float s = 0;
            for (long long r = g * per; r < n && r < (g + 1) * per; r++) s += x[r * c + j];
            part[g * c + j] = s;
        }
    } else if (!strcmp(k, "layernorm_part")) {
        float *pw = PTR(0, float), *pb = PTR(1, float); const float *dout = PTR(2, float), *inp = PTR(3, float);
        const float *mean = PTR(4, float), *rstd = PTR(5, float); long long n = ARG(6, long long);
        int c = ARG(7, int), per = ARG(8, int);
        for (long long g = 0; g * per < n; g++) for (int j = 0; j < c; j++) {
            float sw = 0, sb = 0;
            for (long long r = g * per; r < n && r < (g + 1) * per; r++) {
                float d = dout[r * c + j];
                sw += d * (inp[r * c + j] - mean[r]) * rstd[r];
                sb += d;
            }
            pw[g * c + j] = sw; pb[g * c + j] = sb;
        }
    } else {  // colsum_add
        float *dst = PTR(0, float); const float *part = PTR(1, float); int groups = ARG(2, int); long long c = ARG(3, long long);
        for (long long j = 0; j < c; j++) {
            float s = 0;
            for (int g = 0; g < groups; g++) s += part[g * c + j];
            dst[j] += s;
        }
    }
}

static void attention_parts(const char *k, void **args) {
    if (!strcmp(k, "softmax_causal_backward")) {
        float *datt = PTR(0, float); const float *att = PTR(1, float);
        long long rows = ARG(2, long long); int t = ARG(3, int); float scale = ARG(4, float);
        for (long long r = 0; r < rows; r++) {
            float *d = datt + r * t; const float *p = att + r * t;
            int valid = (int)(r % t) + 1;
            float s = 0; for (int i = 0; i < valid; i++) s += p[i] * d[i];
            for (int i = 0; i < t; i++) d[i] = i < valid ? p[i] * (d[i] - s) * scale : 0.0f;
        }
    } else {  // permute_heads
        float *dst = PTR(0, float); const float *src = PTR(1, float);
        long long nw = ARG(2, long long); int t = ARG(3, int), nh = ARG(4, int), hs = ARG(5, int), ld = ARG(6, int), dir = ARG(7, int);
        long long n = nw * nh * t * hs;
        for (long long i = 0; i < n; i++) {
            int d = (int)(i % hs); long long r = i / hs; int p = (int)(r % t); r /= t; int h = (int)(r % nh); long long w = r / nh;
            long long o = (w * t + p) * ld + (long long)h * hs + d;
            if (dir == 0) dst[i] = src[o]; else dst[o] = src[i];
        }
    }
}

int gl_cuda_emulate_backward(const char *k, void **args) {
    if (!strcmp(k, "zero")) {
        float *p = PTR(0, float); long long n = ARG(1, long long);
        for (long long i = 0; i < n; i++) p[i] = 0;
    } else if (!strcmp(k, "axpby")) {
        float *out = PTR(0, float); float a = ARG(1, float); const float *x = PTR(2, float);
        float b = ARG(3, float); const float *y = PTR(4, float); long long n = ARG(5, long long);
        for (long long i = 0; i < n; i++) out[i] = a * x[i] + b * y[i];
    } else if (!strcmp(k, "lse_backward")) {
        float *lg = PTR(0, float); long long rows = ARG(1, long long); int vb = ARG(2, int), v0 = ARG(3, int);
        const int *tg = PTR(4, int); const float *mx = PTR(5, float); const double *sum = PTR(6, double);
        float scale = ARG(7, float);
        for (long long r = 0; r < rows; r++) {
            float lse = (float)((double)mx[r] + log(sum[r]));
            for (int i = 0; i < vb; i++) {
                float d = expf(lg[r * vb + i] - lse) * scale;
                if (tg[r] == v0 + i) d -= scale;
                lg[r * vb + i] = d;
            }
        }
    } else if (!strcmp(k, "layernorm_backward")) {
        layernorm_backward(args);
    } else if (!strcmp(k, "colsum_part") || !strcmp(k, "layernorm_part") || !strcmp(k, "colsum_add")) {
        column_sums(k, args);
    } else if (!strcmp(k, "gelu_backward")) {
        float *dinp = PTR(0, float); const float *inp = PTR(1, float), *dout = PTR(2, float); long long n = ARG(3, long long);
        for (long long i = 0; i < n; i++) {
            float x = inp[i], s = 0.7978845608028654f, th = tanhf(s * (x + 0.044715f * x * x * x));
            dinp[i] = dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * s * (1.0f + 3.0f * 0.044715f * x * x));
        }
    } else if (!strcmp(k, "softmax_causal_backward") || !strcmp(k, "permute_heads")) {
        attention_parts(k, args);
    } else if (!strcmp(k, "wte_backward")) {
        float *dwte = PTR(0, float); const float *dres = PTR(1, float); const int *order = PTR(2, int);
        const int *start = PTR(3, int), *id = PTR(4, int); int segments = ARG(5, int), c = ARG(6, int);
        for (int s = 0; s < segments; s++) for (int j = 0; j < c; j++) {
            float acc = 0;
            for (int q = start[s]; q < start[s + 1]; q++) acc += dres[(long long)order[q] * c + j];
            dwte[(long long)id[s] * c + j] += acc;
        }
    } else {
        return 1;
    }
    return 0;
}

// compare's paired heads (kernels.h's pair_init, pair_chunk): the same merges (a chunk's sums in float here, per thread
// then in double on the GPU).
int gl_cuda_emulate_pair(const char *k, void **args) {
    if (!strcmp(k, "pair_init")) {
        float *ma = PTR(0, float), *mb = PTR(1, float); double *sums = PTR(2, double); int *idx = PTR(3, int);
        float *picked = PTR(4, float); long long n = ARG(5, long long);
        for (long long i = 0; i < n; i++) {
            ma[i] = mb[i] = -INFINITY; sums[3 * i] = sums[3 * i + 1] = sums[3 * i + 2] = 0;
            idx[2 * i] = idx[2 * i + 1] = 0; picked[2 * i] = picked[2 * i + 1] = NAN;
        }
        return 0;
    }
    if (strcmp(k, "pair_chunk")) return 1;
    const float *la = PTR(0, float), *lb = PTR(1, float); long long rows = ARG(2, long long);
    int vb = ARG(3, int), v0 = ARG(4, int); const int *tg = PTR(5, int);
    float *ma = PTR(6, float), *mb = PTR(7, float); double *sums = PTR(8, double); int *idx = PTR(9, int);
    float *picked = PTR(10, float);
    for (long long r = 0; r < rows; r++) {
        const float *a = la + r * vb, *b = lb + r * vb;
        float va = -INFINITY, vm = -INFINITY; int ka = 0, kb = 0;
        for (int i = 0; i < vb; i++) { if (a[i] > va) { va = a[i]; ka = i; } if (b[i] > vm) { vm = b[i]; kb = i; } }
        float fa = 0, fb = 0, fab = 0;
        for (int i = 0; i < vb; i++) { float ea = expf(a[i] - va); fa += ea; fb += expf(b[i] - vm); fab += ea * (a[i] - b[i]); }
        float oa = ma[r], ob = mb[r], na = fmaxf(oa, va), nb = fmaxf(ob, vm);
        double *s = sums + 3 * r;
        double ra = oa == na ? 1.0 : exp((double)oa - (double)na), qa = exp((double)va - (double)na);
        double rb = ob == nb ? 1.0 : exp((double)ob - (double)nb), qb = exp((double)vm - (double)nb);
        s[0] = s[0] * ra + fa * qa; s[2] = s[2] * ra + fab * qa; s[1] = s[1] * rb + fb * qb;
        if (va > oa) idx[2 * r] = v0 + ka;
        if (vm > ob) idx[2 * r + 1] = v0 + kb;
        ma[r] = na; mb[r] = nb;
        int t = tg[r] - v0;
        if (t >= 0 && t < vb) { picked[2 * r] = a[t]; picked[2 * r + 1] = b[t]; }
    }
    return 0;
}

// Hutchinson's probe and the tiled dot products (kernels_backward.h's rademacher_fill, dot_part).
int gl_cuda_emulate_probe(const char *k, void **args) {
    if (!strcmp(k, "rademacher_fill")) {
        float *v = PTR(0, float); long long n = ARG(1, long long);
        unsigned long long state = ARG(2, unsigned long long); long long draw0 = ARG(3, long long);
        for (long long i = 0; i < n; i++) {
            unsigned long long z = state + (unsigned long long)(draw0 + i / 64 + 1) * 0x9E3779B97F4A7C15ULL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
            z = z ^ (z >> 31);
            v[i] = ((z >> (i % 64)) & 1ULL) ? -1.0f : 1.0f;
        }
        return 0;
    }
    if (strcmp(k, "dot_part")) return 1;
    double *part = PTR(0, double); const float *x = PTR(1, float), *y = PTR(2, float); long long n = ARG(3, long long);
    for (long long g = 0; g * 4096 < n; g++) {
        double s = 0;
        for (long long i = g * 4096; i < n && i < (g + 1) * 4096; i++) s += (double)x[i] * (double)y[i];
        part[g] = s;
    }
    return 0;
}
