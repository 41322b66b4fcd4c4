// Elementwise kernels on 16-float vectors (clang ext_vector_type), one clone per ISA level on
// x86-64: AVX-512 (x86-64-v4), AVX2+FMA (x86-64-v3) and baseline SSE2, picked at load time.
// a*b + c is written plainly: clang contracts it into one FMA where the clone has FMA and into a
// multiply and an add where it does not — never a call to libm's fmaf.
// exp and tanh are the Cephes-style range reduction + polynomial the Swift kernels used before
// (max relative error of exp ≈ 2 ulp over [-87, 88]; inputs below -87.3 flush to 0).
#include "CKernels.h"
#include <string.h>

#if defined(__x86_64__)
#define GL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GL_CLONES
#endif
#define GL_INLINE static inline __attribute__((always_inline))

typedef float v16 __attribute__((ext_vector_type(16)));
typedef int v16i __attribute__((ext_vector_type(16)));

// Vectors never cross a function boundary by value (a 64-byte vector argument would change the
// calling convention between clones, which clang rejects): helpers are macros or take pointers.
#define splat(x) ((v16)(float)(x))
#define load(p) ({ v16 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store(p, v) ({ v16 s_ = (v); memcpy((p), &s_, sizeof s_); })
/// First n (< 16) lanes from p, the rest `fill`.
#define load_part(p, n, fill) ({ float b_[16]; for (int i_ = 0; i_ < 16; i_++) b_[i_] = (fill); \
    memcpy(b_, (p), (n) * sizeof(float)); load(b_); })
#define store_part(p, v, n) ({ float b_[16]; store(b_, (v)); memcpy((p), b_, (n) * sizeof(float)); })
/// mask ? a : b, lane-wise (mask lanes are all ones or all zeros, as comparisons give).
#define select(mask, a, b) ({ v16 a_ = (a), b_ = (b); v16i m_ = (mask), ai_, bi_; \
    memcpy(&ai_, &a_, sizeof a_); memcpy(&bi_, &b_, sizeof b_); v16i r_ = (ai_ & m_) | (bi_ & ~m_); \
    v16 o_; memcpy(&o_, &r_, sizeof o_); o_; })

GL_INLINE float hsum(const v16 *v) {
    // Pairwise, in a fixed order (the same in every clone).
    float s[16]; memcpy(s, v, sizeof s);
    for (int w = 8; w >= 1; w /= 2) for (int i = 0; i < w; i++) s[i] += s[i + w];
    return s[0];
}
GL_INLINE float hmax(const v16 *v) {
    float s[16]; memcpy(s, v, sizeof s);
    float m = s[0]; for (int i = 1; i < 16; i++) m = s[i] > m ? s[i] : m;
    return m;
}

GL_INLINE void vexp(v16 *io) {
    v16 x0 = *io;
    const v16 lo = splat(-87.3f), hi = splat(88.3f);
    v16 x = select(x0 < lo, lo, x0);
    x = select(x > hi, hi, x);
    // n = round(x / ln2): adding 1.5·2²³ rounds to an integer held in the low mantissa bits.
    const v16 magic = splat(12582912.0f);
    v16 shifted = x * splat(1.44269504088896341f) + magic;
    v16 fx = shifted - magic;
    v16 r = x + fx * splat(-0.693359375f);  // two-part ln2: fx·0.693359375 is exact
    r = r + fx * splat(2.12194440e-4f);
    v16 p = splat(1.9875691500e-4f) * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    v16 y = p * (r * r) + (r + 1);
    v16i n; memcpy(&n, &shifted, sizeof n);
    v16i bits = ((n - 0x4B400000) + 127) << 23;
    v16 scale; memcpy(&scale, &bits, sizeof scale);
    *io = select(x0 < lo, splat(0), y * scale);
}

GL_INLINE void vtanh(v16 *io) {
    v16 x = *io;
    // tanh(x) = sign(x)·(1 − 2/(exp(2|x|) + 1)); below |x| = 1/16 a Taylor polynomial avoids cancellation.
    v16 a = select(x < 0, -x, x);
    v16 a2 = a * 2;
    v16 e = select(a2 > 40, splat(40), a2);
    vexp(&e);
    v16 big = 1 - 2 / (e + 1);
    v16 x2 = a * a;
    v16 poly = x2 * splat(-17.0f / 315) + splat(2.0f / 15);
    poly = poly * x2 + splat(-1.0f / 3);
    poly = poly * x2 + 1;
    v16 t = select(a < 0.0625f, a * poly, big);
    *io = select(x < 0, -t, t);
}

static const float gelu_scale = 0.7978845608028654f;  // √(2/π)

GL_INLINE void vgelu(v16 *io) {
    v16 x = *io;
    v16 th = gelu_scale * (x + 0.044715f * x * x * x);
    vtanh(&th);
    *io = 0.5f * x * (1 + th);
}

/// x → gelu'(x), in place.
GL_INLINE void vgelu_grad(v16 *io) {
    v16 x = *io, x2 = x * x;
    v16 th = gelu_scale * (x + 0.044715f * x2 * x);
    vtanh(&th);
    v16 du = gelu_scale * (1 + 0.134145f * x2);
    *io = 0.5f * (1 + th) + 0.5f * x * (1 - th * th) * du;
}

GL_CLONES void gl_gelu_forward(float *out, const float *inp, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) { v16 x = load(inp + i); vgelu(&x); store(out + i, x); }
    if (i < n) { v16 x = load_part(inp + i, n - i, 0); vgelu(&x); store_part(out + i, x, n - i); }
}

GL_CLONES void gl_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 g = load(inp + i); vgelu_grad(&g);
        store(dinp + i, load(dinp + i) + g * load(dout + i));
    }
    if (i < n) {
        size_t k = n - i;
        v16 g = load_part(inp + i, k, 0); vgelu_grad(&g);
        store_part(dinp + i, load_part(dinp + i, k, 0) + g * load_part(dout + i, k, 0), k);
    }
}

GL_CLONES float gl_max(const float *row, size_t n) {
    v16 m = splat(-__builtin_inff());
    size_t i = 0;
    for (; i + 16 <= n; i += 16) { v16 x = load(row + i); m = select(m < x, x, m); }
    if (i < n) { v16 x = load_part(row + i, n - i, -__builtin_inff()); m = select(m < x, x, m); }
    return hmax(&m);
}

GL_CLONES float gl_sum_exp_shifted(const float *row, size_t n, float m) {
    v16 acc = splat(0), mv = splat(m);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) { v16 e = load(row + i) - mv; vexp(&e); acc += e; }
    if (i < n) { v16 e = load_part(row + i, n - i, -__builtin_inff()) - mv; vexp(&e); acc += e; }  // exp(−inf) = 0
    return hsum(&acc);
}

GL_CLONES float gl_exp_shifted_inplace(float *row, size_t n, float m) {
    v16 acc = splat(0), mv = splat(m);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) { v16 e = load(row + i) - mv; vexp(&e); store(row + i, e); acc += e; }
    if (i < n) {
        v16 e = load_part(row + i, n - i, -__builtin_inff()) - mv; vexp(&e);
        store_part(row + i, e, n - i); acc += e;
    }
    return hsum(&acc);
}

GL_CLONES void gl_exp_shifted_scale(float *row, size_t n, float shift, float scale) {
    v16 sh = splat(shift), sc = splat(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) { v16 e = load(row + i) - sh; vexp(&e); store(row + i, e * sc); }
    if (i < n) { v16 e = load_part(row + i, n - i, 0) - sh; vexp(&e); store_part(row + i, e * sc, n - i); }
}

GL_CLONES void gl_scale(float *row, size_t n, float s) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) store(row + i, load(row + i) * s);
    for (; i < n; i++) row[i] *= s;
}

GL_CLONES void gl_add(float *out, const float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) store(out + i, load(a + i) + load(b + i));
    for (; i < n; i++) out[i] = a[i] + b[i];
}

GL_CLONES void gl_layernorm_row(float *out, const float *x, const float *weight, const float *bias, size_t c,
                                float eps, float *mean, float *rstd) {
    v16 acc = splat(0);
    size_t i = 0;
    for (; i + 16 <= c; i += 16) acc += load(x + i);
    if (i < c) acc += load_part(x + i, c - i, 0);
    float m = hsum(&acc) / (float)c;
    v16 mv = splat(m), var = splat(0);
    for (i = 0; i + 16 <= c; i += 16) { v16 d = load(x + i) - mv; var += d * d; }
    if (i < c) { v16 d = load_part(x + i, c - i, m) - mv; var += d * d; }
    float r = 1.0f / __builtin_sqrtf(hsum(&var) / (float)c + eps);
    v16 rv = splat(r);
    for (i = 0; i + 16 <= c; i += 16) store(out + i, (load(x + i) - mv) * rv * load(weight + i) + load(bias + i));
    for (; i < c; i++) out[i] = (x[i] - m) * r * weight[i] + bias[i];
    if (mean) *mean = m;
    if (rstd) *rstd = r;
}

GL_CLONES void gl_kl_sums(const float *a, const float *b, size_t n, float ma, float mb,
                          double *sa, double *sb, double *sab) {
    // Lanes accumulate in float and are flushed to double every 64 vectors (1024 logits), so a
    // 50k-logit row keeps double accuracy in the sums.
    v16 za = splat(0), zb = splat(0), zab = splat(0), mav = splat(ma), mbv = splat(mb);
    double ta = 0, tb = 0, tab = 0;
    size_t i = 0, k = 0;
    for (; i + 16 <= n; i += 16) {
        v16 x = load(a + i), y = load(b + i), ea = x - mav, eb = y - mbv;
        vexp(&ea); vexp(&eb);
        za += ea; zb += eb; zab += ea * (x - y);
        if (++k == 64) { ta += hsum(&za); tb += hsum(&zb); tab += hsum(&zab); za = zb = zab = splat(0); k = 0; }
    }
    if (i < n) {
        v16 x = load_part(a + i, n - i, 0), y = load_part(b + i, n - i, 0);
        v16 ea = load_part(a + i, n - i, -__builtin_inff()) - mav, eb = load_part(b + i, n - i, -__builtin_inff()) - mbv;
        vexp(&ea); vexp(&eb);                      // exp(−inf) = 0: the padding adds nothing
        za += ea; zb += eb; zab += ea * (x - y);
    }
    *sa = ta + hsum(&za); *sb = tb + hsum(&zb); *sab = tab + hsum(&zab);
}
