// ft.cpp: clean-room OpenMP C++ version of the NAS Parallel Benchmarks FT kernel.
//
// Solves a 3-D diffusion equation spectrally: forward 3-D FFT of random complex data, then for
// each time step multiply by exp(-4 alpha pi^2 |k|^2) (cumulatively), inverse 3-D FFT and a
// 1024-point checksum. Facts (sizes, reference checksums, Mop/s formula) are in
// ../SPEC-mg-ft.md.
//
// FFT design (our own): the 3-D transform is three passes of batched 1-D transforms. A pass
// gathers `kBatch` lines into a per-thread split-complex buffer laid out [position][line] (line
// index fastest, so every butterfly is a contiguous SIMD loop over lines), runs a radix-4
// Stockham autosort FFT (one radix-2 stage when log2 n is odd) ping-ponging between two such
// buffers, and scatters the result back. The evolution step is fused into the gather of the
// first inverse pass (z): it reads W, multiplies by the factor, writes W back and feeds the
// buffer, so the separate copy W -> X of a naive implementation disappears.
//
// Array layout: complex<double> as interleaved (re, im), x fastest. Rows are padded by kPadX
// elements and planes by kPadZ elements so that strided gathers do not all land in the same
// cache sets.
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "npb.h"

namespace {

constexpr double kSeed = 314159265.0;
constexpr double kMult = 1220703125.0;  // 5^13
constexpr double kAlpha = 1.0e-6;
constexpr double kPi = 3.141592653589793238;
#ifndef FT_BATCH
#define FT_BATCH 16
#endif
#ifndef FT_PADX
#define FT_PADX 0
#endif
#ifndef FT_PADZ
#define FT_PADZ 8
#endif
constexpr int kBatch = FT_BATCH;  // lines per batched 1-D FFT
constexpr int kPadX = FT_PADX;    // extra complex elements per row
constexpr int kPadZ = FT_PADZ;    // extra complex elements per plane
constexpr int kChecksumPoints = 1024;

struct ClassParams {
    int nx, ny, nz, niter;
};

ClassParams params_for(npb::Class c) {
    switch (c) {
        case npb::Class::S:
            return {64, 64, 64, 6};
        case npb::Class::W:
            return {128, 128, 32, 6};
        case npb::Class::A:
            return {256, 256, 128, 6};
        case npb::Class::B:
            return {512, 256, 256, 20};
        case npb::Class::C:
            return {512, 512, 512, 20};
    }
    return {64, 64, 64, 6};
}

// Reference checksums (re, im) per iteration; see SPEC-mg-ft.md.
const double* reference_checksums(npb::Class c) {
    static const double S[] = {5.546087004964e+02, 4.845363331978e+02, 5.546385409189e+02,
                               4.865304269511e+02, 5.546148406171e+02, 4.883910722336e+02,
                               5.545423607415e+02, 4.901273169046e+02, 5.544255039624e+02,
                               4.917475857993e+02, 5.542683411902e+02, 4.932597244941e+02};
    static const double W[] = {5.673612178944e+02, 5.293246849175e+02, 5.631436885271e+02,
                               5.282149986629e+02, 5.594024089970e+02, 5.270996558037e+02,
                               5.560698047020e+02, 5.260027904925e+02, 5.530898991250e+02,
                               5.249400845633e+02, 5.504159734538e+02, 5.239212247086e+02};
    static const double A[] = {5.046735008193e+02, 5.114047905510e+02, 5.059412319734e+02,
                               5.098809666433e+02, 5.069376896287e+02, 5.098144042213e+02,
                               5.077892868474e+02, 5.101336130759e+02, 5.085233095391e+02,
                               5.104914655194e+02, 5.091487099959e+02, 5.107917842803e+02};
    static const double B[] = {
        5.177643571579e+02, 5.077803458597e+02, 5.154521291263e+02, 5.088249431599e+02,
        5.146409228649e+02, 5.096208912659e+02, 5.142378756213e+02, 5.101023387619e+02,
        5.139626667737e+02, 5.103976610617e+02, 5.137423460082e+02, 5.105948019802e+02,
        5.135547056878e+02, 5.107404165783e+02, 5.133910925466e+02, 5.108576573661e+02,
        5.132470705390e+02, 5.109577278523e+02, 5.131197729984e+02, 5.110460304483e+02,
        5.130070319283e+02, 5.111252433800e+02, 5.129070537032e+02, 5.111968077718e+02,
        5.128182883502e+02, 5.112616233064e+02, 5.127393733383e+02, 5.113203605551e+02,
        5.126691062020e+02, 5.113735928093e+02, 5.126064276004e+02, 5.114218460548e+02,
        5.125504076570e+02, 5.114656139760e+02, 5.125002331720e+02, 5.115053595966e+02,
        5.124551951846e+02, 5.115415130407e+02, 5.124146770029e+02, 5.115744692211e+02};
    static const double C[] = {
        5.195078707457e+02, 5.149019699238e+02, 5.155422171134e+02, 5.127578201997e+02,
        5.144678022222e+02, 5.122251847514e+02, 5.140150594328e+02, 5.121090289018e+02,
        5.137550426810e+02, 5.121143685824e+02, 5.135811056728e+02, 5.121496764568e+02,
        5.134569343165e+02, 5.121870921893e+02, 5.133651975661e+02, 5.122193250322e+02,
        5.132955192805e+02, 5.122454735794e+02, 5.132410471738e+02, 5.122663649603e+02,
        5.131971141679e+02, 5.122830879827e+02, 5.131605205716e+02, 5.122965869718e+02,
        5.131290734194e+02, 5.123075927445e+02, 5.131012720314e+02, 5.123166486553e+02,
        5.130760908195e+02, 5.123241541685e+02, 5.130528295923e+02, 5.123304037599e+02,
        5.130310107773e+02, 5.123356167976e+02, 5.130103090133e+02, 5.123399592211e+02,
        5.129905029333e+02, 5.123435588985e+02, 5.129714421109e+02, 5.123465164008e+02};
    switch (c) {
        case npb::Class::S:
            return S;
        case npb::Class::W:
            return W;
        case npb::Class::A:
            return A;
        case npb::Class::B:
            return B;
        case npb::Class::C:
            return C;
    }
    return S;
}

// Fortran 1P,D22.12 edit descriptor: one digit before the point, 12 after, 'D' exponent.
std::string fortran_d(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%22.12E", v);
    for (char* c = buf; *c; ++c)
        if (*c == 'E') *c = 'D';
    return buf;
}

void* big_alloc(std::size_t bytes) {
    bytes = (bytes + 4095) / 4096 * 4096;
    void* p = std::aligned_alloc(4096, bytes);
    if (!p) {
        std::fprintf(stderr, "npb-ft: out of memory (%zu bytes)\n", bytes);
        std::exit(3);
    }
    if (bytes >= (std::size_t{4} << 20)) madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

// ---------------------------------------------------------------------------------------------
// Batched 1-D FFT plan for length n = 2^k.
//
// Stockham autosort, decimation in frequency. A stage works on sub-transforms of length N with
// stride s (N * s = n): element p of sub-transform q lives at position q + s*p. A radix-4 stage
// with m = N/4 maps, for every p < m and q < s, the four inputs a, b, c, d at p, p+m, p+2m, p+3m
// to the outputs at q + s*(4p + r), r = 0..3:
//   r=0: (a+c) + (b+d)
//   r=1: w^p  * ((a-c) + sigma*i*(b-d))
//   r=2: w^2p * ((a+c) - (b+d))
//   r=3: w^3p * ((a-c) - sigma*i*(b-d))
// with w = exp(sigma * 2 pi i / N); the next stage then has length N/4 and stride 4s. Radix 2 is
// the same with two inputs. After the last stage the output is in natural order.
// Each "element" is a vector of kBatch lines, so the s consecutive q's of one p form a
// contiguous run of s*kBatch doubles: the innermost loop.
struct Stage {
    int radix;       // 4 or 2
    int m;           // butterflies per sub-transform (N / radix)
    int s;           // stride (number of interleaved sub-transforms)
    std::size_t tw;  // offset of this stage's twiddles in FftPlan::tw
};

struct FftPlan {
    int n = 0;
    std::vector<Stage> stages;
    // Per stage, per p: radix 4 -> cos/sin of 2 pi p r / N for r = 1, 2, 3 (6 doubles);
    // radix 2 -> cos/sin of 2 pi p / N (2 doubles). The sign sigma is applied at use.
    std::vector<double> tw;

    void init(int len) {
        n = len;
        stages.clear();
        tw.clear();
        int log2n = 0;
        while ((1 << log2n) < n) ++log2n;
        int N = n, s = 1;
        int radix4_stages = log2n / 2;
        for (int st = 0; st < radix4_stages + (log2n & 1); ++st) {
            const int radix = st < radix4_stages ? 4 : 2;
            Stage S{radix, N / radix, s, tw.size()};
            for (int p = 0; p < S.m; ++p) {
                for (int r = 1; r < radix; ++r) {
                    // exact reduction of the angle keeps the table accurate to the last bit
                    const long num = static_cast<long>(p) * r;
                    const long double ang = 2.0L * 3.141592653589793238462643383279502884L *
                                            static_cast<long double>(num) / N;
                    tw.push_back(static_cast<double>(std::cos(ang)));
                    tw.push_back(static_cast<double>(std::sin(ang)));
                }
            }
            stages.push_back(S);
            N /= radix;
            s *= radix;
        }
    }
};

// One radix-4 stage. kSign = -1 forward, +1 inverse.
template <int kSign>
void radix4_stage(const Stage& S, const double* __restrict twiddles, const double* __restrict xr,
                  const double* __restrict xi, double* __restrict yr, double* __restrict yi) {
    const int m = S.m;
    const std::size_t run = static_cast<std::size_t>(S.s) * kBatch;  // contiguous run length
    const std::size_t quarter = static_cast<std::size_t>(m) * run;
    for (int p = 0; p < m; ++p) {
        const double* ar = xr + p * run;
        const double* ai = xi + p * run;
        const double* br = ar + quarter;
        const double* bi = ai + quarter;
        const double* cr = br + quarter;
        const double* ci = bi + quarter;
        const double* dr = cr + quarter;
        const double* di = ci + quarter;
        double* y0r = yr + (4 * static_cast<std::size_t>(p)) * run;
        double* y0i = yi + (4 * static_cast<std::size_t>(p)) * run;
        double* y1r = y0r + run;
        double* y1i = y0i + run;
        double* y2r = y1r + run;
        double* y2i = y1i + run;
        double* y3r = y2r + run;
        double* y3i = y2i + run;
        if (p == 0) {  // all twiddles are 1
#pragma omp simd
            for (std::size_t j = 0; j < run; ++j) {
                const double t0r = ar[j] + cr[j], t0i = ai[j] + ci[j];
                const double t1r = ar[j] - cr[j], t1i = ai[j] - ci[j];
                const double t2r = br[j] + dr[j], t2i = bi[j] + di[j];
                const double t3r = br[j] - dr[j], t3i = bi[j] - di[j];
                y0r[j] = t0r + t2r;
                y0i[j] = t0i + t2i;
                y2r[j] = t0r - t2r;
                y2i[j] = t0i - t2i;
                // sigma*i*(t3) = sigma*(-t3i + i t3r)
                y1r[j] = t1r - kSign * t3i;
                y1i[j] = t1i + kSign * t3r;
                y3r[j] = t1r + kSign * t3i;
                y3i[j] = t1i - kSign * t3r;
            }
            continue;
        }
        const double* w = twiddles + 6 * static_cast<std::size_t>(p);
        const double w1r = w[0], w1i = kSign * w[1];
        const double w2r = w[2], w2i = kSign * w[3];
        const double w3r = w[4], w3i = kSign * w[5];
#pragma omp simd
        for (std::size_t j = 0; j < run; ++j) {
            const double t0r = ar[j] + cr[j], t0i = ai[j] + ci[j];
            const double t1r = ar[j] - cr[j], t1i = ai[j] - ci[j];
            const double t2r = br[j] + dr[j], t2i = bi[j] + di[j];
            const double t3r = br[j] - dr[j], t3i = bi[j] - di[j];
            y0r[j] = t0r + t2r;
            y0i[j] = t0i + t2i;
            const double u2r = t0r - t2r, u2i = t0i - t2i;
            const double u1r = t1r - kSign * t3i, u1i = t1i + kSign * t3r;
            const double u3r = t1r + kSign * t3i, u3i = t1i - kSign * t3r;
            y1r[j] = u1r * w1r - u1i * w1i;
            y1i[j] = u1r * w1i + u1i * w1r;
            y2r[j] = u2r * w2r - u2i * w2i;
            y2i[j] = u2r * w2i + u2i * w2r;
            y3r[j] = u3r * w3r - u3i * w3i;
            y3i[j] = u3r * w3i + u3i * w3r;
        }
    }
}

template <int kSign>
void radix2_stage(const Stage& S, const double* __restrict twiddles, const double* __restrict xr,
                  const double* __restrict xi, double* __restrict yr, double* __restrict yi) {
    const int m = S.m;
    const std::size_t run = static_cast<std::size_t>(S.s) * kBatch;
    const std::size_t half = static_cast<std::size_t>(m) * run;
    for (int p = 0; p < m; ++p) {
        const double* ar = xr + p * run;
        const double* ai = xi + p * run;
        const double* br = ar + half;
        const double* bi = ai + half;
        double* y0r = yr + (2 * static_cast<std::size_t>(p)) * run;
        double* y0i = yi + (2 * static_cast<std::size_t>(p)) * run;
        double* y1r = y0r + run;
        double* y1i = y0i + run;
        if (p == 0) {
#pragma omp simd
            for (std::size_t j = 0; j < run; ++j) {
                y0r[j] = ar[j] + br[j];
                y0i[j] = ai[j] + bi[j];
                y1r[j] = ar[j] - br[j];
                y1i[j] = ai[j] - bi[j];
            }
            continue;
        }
        const double wr = twiddles[2 * static_cast<std::size_t>(p)];
        const double wi = kSign * twiddles[2 * static_cast<std::size_t>(p) + 1];
#pragma omp simd
        for (std::size_t j = 0; j < run; ++j) {
            y0r[j] = ar[j] + br[j];
            y0i[j] = ai[j] + bi[j];
            const double dr = ar[j] - br[j], di = ai[j] - bi[j];
            y1r[j] = dr * wr - di * wi;
            y1i[j] = dr * wi + di * wr;
        }
    }
}

// Per-thread work space: two split-complex buffers of maxn * kBatch points.
struct Work {
    double* re[2];
    double* im[2];
};

// Transforms the kBatch lines held in buffer 0 of `w`; returns the index (0 or 1) of the buffer
// holding the result.
template <int kSign>
int fft_batch(const FftPlan& P, Work& w) {
    int cur = 0;
    for (const Stage& S : P.stages) {
        const double* t = P.tw.data() + S.tw;
        if (S.radix == 4)
            radix4_stage<kSign>(S, t, w.re[cur], w.im[cur], w.re[cur ^ 1], w.im[cur ^ 1]);
        else
            radix2_stage<kSign>(S, t, w.re[cur], w.im[cur], w.re[cur ^ 1], w.im[cur ^ 1]);
        cur ^= 1;
    }
    return cur;
}

// ---------------------------------------------------------------------------------------------

struct Problem {
    int nx = 0, ny = 0, nz = 0, niter = 0;
    std::size_t row = 0;      // complex elements per row (nx + pad)
    std::size_t plane = 0;    // complex elements per plane
    std::size_t total = 0;    // complex elements in the array
    double* u0 = nullptr;     // W: transformed initial data, evolved in place
    double* u1 = nullptr;     // X: initial data, then each step's inverse transform
    std::vector<double> fx;   // exp(ap * ibar^2), per x index
    std::vector<double> fyz;  // exp(ap * (jbar^2 + kbar^2)), per (k, j)
    FftPlan plan_x, plan_y, plan_z;
    std::vector<Work> work;

    std::size_t idx(int i, int j, int k) const {
        return 2 * (static_cast<std::size_t>(k) * plane + static_cast<std::size_t>(j) * row + i);
    }

    void allocate() {
        row = static_cast<std::size_t>(nx) + kPadX;
        plane = row * ny + kPadZ;
        total = plane * nz;
        u0 = static_cast<double*>(big_alloc(total * 2 * sizeof(double)));
        u1 = static_cast<double*>(big_alloc(total * 2 * sizeof(double)));
        const int maxn = std::max(nx, std::max(ny, nz));
        const int threads = omp_get_max_threads();
        work.assign(threads, Work{});
        // First touch of everything by the threads that use it (same static schedule).
#pragma omp parallel
        {
            const std::size_t bytes = static_cast<std::size_t>(maxn) * kBatch * sizeof(double);
            Work& w = work[omp_get_thread_num()];
            for (int b = 0; b < 2; ++b) {
                w.re[b] = static_cast<double*>(std::aligned_alloc(64, bytes));
                w.im[b] = static_cast<double*>(std::aligned_alloc(64, bytes));
                std::memset(w.re[b], 0, bytes);
                std::memset(w.im[b], 0, bytes);
            }
#pragma omp for schedule(static)
            for (int k = 0; k < nz; ++k) {
                std::memset(u0 + 2 * static_cast<std::size_t>(k) * plane, 0,
                            2 * plane * sizeof(double));
                std::memset(u1 + 2 * static_cast<std::size_t>(k) * plane, 0,
                            2 * plane * sizeof(double));
            }
        }
    }

    void release() {
        std::free(u0);
        std::free(u1);
        for (Work& w : work)
            for (int b = 0; b < 2; ++b) {
                std::free(w.re[b]);
                std::free(w.im[b]);
            }
    }

    // Evolution factors (separable: exp(ap*(i^2+j^2+k^2)) = fx[i] * fyz[k,j]).
    void compute_factors() {
        const double ap = -4.0 * kAlpha * kPi * kPi;
        auto bar = [](int i, int n) { return i < n / 2 ? i : i - n; };
        fx.resize(nx);
        for (int i = 0; i < nx; ++i) {
            const double ib = bar(i, nx);
            fx[i] = std::exp(ap * ib * ib);
        }
        fyz.resize(static_cast<std::size_t>(ny) * nz);
#pragma omp parallel for schedule(static)
        for (int k = 0; k < nz; ++k) {
            const double kb = bar(k, nz);
            for (int j = 0; j < ny; ++j) {
                const double jb = bar(j, ny);
                fyz[static_cast<std::size_t>(k) * ny + j] = std::exp(ap * (jb * jb + kb * kb));
            }
        }
    }

    // Random initial data into u1: the stream fills (re, im) pairs in array order; plane k
    // starts 2*nx*ny*k steps into the stream.
    void initial_conditions() {
        const double a_plane = npb::lcg_power(kMult, 2LL * nx * ny);
#pragma omp parallel for schedule(static)
        for (int k = 0; k < nz; ++k) {
            double x = npb::lcg_skip(kSeed, a_plane, k);
            for (int j = 0; j < ny; ++j) npb::vranlc(2 * nx, &x, kMult, u1 + idx(0, j, k));
        }
    }

    void init_plans() {
        plan_x.init(nx);
        plan_y.init(ny);
        plan_z.init(nz);
    }

    // --- passes ---------------------------------------------------------------------------
    // x pass, in place on a: lines along x, batches of kBatch consecutive j in one plane.
    template <int kSign>
    void pass_x(double* a) {
        const int jb_count = ny / kBatch;
#pragma omp for collapse(2) schedule(static)
        for (int k = 0; k < nz; ++k) {
            for (int jb = 0; jb < jb_count; ++jb) {
                Work& w = work[omp_get_thread_num()];
                const int j0 = jb * kBatch;
                double* __restrict br = w.re[0];
                double* __restrict bi = w.im[0];
                for (std::ptrdiff_t l = 0; l < kBatch; ++l) {
                    const double* __restrict src = a + idx(0, j0 + l, k);
                    for (std::ptrdiff_t i = 0; i < nx; ++i) {
                        br[i * kBatch + l] = src[2 * i];
                        bi[i * kBatch + l] = src[2 * i + 1];
                    }
                }
                const int r = fft_batch<kSign>(plan_x, w);
                const double* __restrict rr = w.re[r];
                const double* __restrict ri = w.im[r];
                for (std::ptrdiff_t l = 0; l < kBatch; ++l) {
                    double* __restrict dst = a + idx(0, j0 + l, k);
                    for (std::ptrdiff_t i = 0; i < nx; ++i) {
                        dst[2 * i] = rr[i * kBatch + l];
                        dst[2 * i + 1] = ri[i * kBatch + l];
                    }
                }
            }
        }
    }

    // y pass, in place on a: lines along y, batches of kBatch consecutive i in one plane.
    template <int kSign>
    void pass_y(double* a) {
        const int ib_count = nx / kBatch;
#pragma omp for collapse(2) schedule(static)
        for (int k = 0; k < nz; ++k) {
            for (int ib = 0; ib < ib_count; ++ib) {
                Work& w = work[omp_get_thread_num()];
                const int i0 = ib * kBatch;
                double* __restrict br = w.re[0];
                double* __restrict bi = w.im[0];
                for (int j = 0; j < ny; ++j) {
                    const double* __restrict src = a + idx(i0, j, k);
#pragma omp simd
                    for (std::ptrdiff_t l = 0; l < kBatch; ++l) {
                        br[static_cast<std::ptrdiff_t>(j) * kBatch + l] = src[2 * l];
                        bi[static_cast<std::ptrdiff_t>(j) * kBatch + l] = src[2 * l + 1];
                    }
                }
                const int r = fft_batch<kSign>(plan_y, w);
                const double* __restrict rr = w.re[r];
                const double* __restrict ri = w.im[r];
                for (int j = 0; j < ny; ++j) {
                    double* __restrict dst = a + idx(i0, j, k);
#pragma omp simd
                    for (std::ptrdiff_t l = 0; l < kBatch; ++l) {
                        dst[2 * l] = rr[static_cast<std::ptrdiff_t>(j) * kBatch + l];
                        dst[2 * l + 1] = ri[static_cast<std::ptrdiff_t>(j) * kBatch + l];
                    }
                }
            }
        }
    }

    // z pass from `in` to `out` (may be the same array): lines along z, batches of kBatch
    // consecutive i in one row j. With kEvolve the gather first applies one time step to `in`
    // (in = in * factor, written back) and transforms the evolved values.
    template <int kSign, bool kEvolve>
    void pass_z(double* in, double* out) {
        const int ib_count = nx / kBatch;
#pragma omp for collapse(2) schedule(static)
        for (int j = 0; j < ny; ++j) {
            for (int ib = 0; ib < ib_count; ++ib) {
                Work& w = work[omp_get_thread_num()];
                const int i0 = ib * kBatch;
                double* __restrict br = w.re[0];
                double* __restrict bi = w.im[0];
                for (int k = 0; k < nz; ++k) {
                    double* __restrict src = in + idx(i0, j, k);
                    if constexpr (kEvolve) {
                        const double f = fyz[static_cast<std::size_t>(k) * ny + j];
                        const double* __restrict fxi = fx.data() + i0;
#pragma omp simd
                        for (std::ptrdiff_t l = 0; l < kBatch; ++l) {
                            const double g = fxi[l] * f;
                            const double re = src[2 * l] * g, im = src[2 * l + 1] * g;
                            src[2 * l] = re;
                            src[2 * l + 1] = im;
                            br[static_cast<std::ptrdiff_t>(k) * kBatch + l] = re;
                            bi[static_cast<std::ptrdiff_t>(k) * kBatch + l] = im;
                        }
                    } else {
#pragma omp simd
                        for (std::ptrdiff_t l = 0; l < kBatch; ++l) {
                            br[static_cast<std::ptrdiff_t>(k) * kBatch + l] = src[2 * l];
                            bi[static_cast<std::ptrdiff_t>(k) * kBatch + l] = src[2 * l + 1];
                        }
                    }
                }
                const int r = fft_batch<kSign>(plan_z, w);
                const double* __restrict rr = w.re[r];
                const double* __restrict ri = w.im[r];
                for (int k = 0; k < nz; ++k) {
                    double* __restrict dst = out + idx(i0, j, k);
#pragma omp simd
                    for (std::ptrdiff_t l = 0; l < kBatch; ++l) {
                        dst[2 * l] = rr[static_cast<std::ptrdiff_t>(k) * kBatch + l];
                        dst[2 * l + 1] = ri[static_cast<std::ptrdiff_t>(k) * kBatch + l];
                    }
                }
            }
        }
    }

    // W = FFT(X): x and y in place on u1, z from u1 into u0.
    void forward() {
#pragma omp parallel
        {
            pass_x<-1>(u1);
            pass_y<-1>(u1);
            pass_z<-1, false>(u1, u0);
        }
    }

    // One time step: W *= factor; X = IFFT(W) (z from u0 into u1, then y and x in place).
    void evolve_and_inverse() {
#ifdef FT_PASS_TIMERS
        // Diagnostic build (-DFT_PASS_TIMERS): process CPU seconds per inverse pass on stderr.
        auto clock = [] {
            timespec ts;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
            return ts.tv_sec + 1e-9 * ts.tv_nsec;
        };
        static double tz = 0, ty = 0, tx = 0;
        static int calls = 0;
        double t0 = clock();
#pragma omp parallel
        pass_z<+1, true>(u0, u1);
        double t1 = clock();
#pragma omp parallel
        pass_y<+1>(u1);
        double t2 = clock();
#pragma omp parallel
        pass_x<+1>(u1);
        double t3 = clock();
        tz += t1 - t0;
        ty += t2 - t1;
        tx += t3 - t2;
        if (++calls == niter) std::fprintf(stderr, "passes: z %.3f y %.3f x %.3f\n", tz, ty, tx);
#else
#pragma omp parallel
        {
            pass_z<+1, true>(u0, u1);
            pass_y<+1>(u1);
            pass_x<+1>(u1);
        }
#endif
    }

    std::complex<double> checksum() const {
        double sr = 0.0, si = 0.0;
        for (int q = 1; q <= kChecksumPoints; ++q) {
            const std::size_t p = idx(q % nx, (3 * q) % ny, (5 * q) % nz);
            sr += u1[p];
            si += u1[p + 1];
        }
        const double ntotal = static_cast<double>(nx) * ny * nz;
        return {sr / ntotal, si / ntotal};
    }
};

}  // namespace

int main(int argc, char** argv) {
    const npb::Options opt = npb::parse_args(argc, argv, "ft");
    const ClassParams C = params_for(opt.cls);
    const int threads = omp_get_max_threads();

    std::printf("\n\n NAS Parallel Benchmarks (NPB3.4-OMP) - FT Benchmark\n\n");
    std::printf(" Size                : %4dx%4dx%4d\n", C.nx, C.ny, C.nz);
    std::printf(" Iterations                  :%7d\n", C.niter);
    std::printf(" Number of available threads :%7d\n\n", threads);
    std::fflush(stdout);

    Problem P;
    P.nx = C.nx;
    P.ny = C.ny;
    P.nz = C.nz;
    P.niter = C.niter;
    P.allocate();

    // Untimed warm-up: the whole setup and one forward transform, to touch all memory.
    P.compute_factors();
    P.initial_conditions();
    P.init_plans();
    P.forward();

    const double t0 = npb::wtime();
    P.compute_factors();
    P.initial_conditions();
    P.init_plans();
    P.forward();
    std::vector<std::complex<double>> sums(C.niter + 1);
    for (int it = 1; it <= C.niter; ++it) {
        P.evolve_and_inverse();
        sums[it] = P.checksum();
        if (opt.corrupt) sums[it] *= 1.0 + 1e-9;
        std::printf(" T =%5d     Checksum =%s%s\n", it, fortran_d(sums[it].real()).c_str(),
                    fortran_d(sums[it].imag()).c_str());
    }
    const double* ref = reference_checksums(opt.cls);
    bool verified = true;
    for (int it = 1; it <= C.niter; ++it) {
        const std::size_t at = 2 * static_cast<std::size_t>(it - 1);
        const std::complex<double> r(ref[at], ref[at + 1]);
        const double err = std::abs((sums[it] - r) / r);
        if (std::isnan(err) || err > 1.0e-12) verified = false;
    }
    const double t = npb::wtime() - t0;
    std::printf(" Result verification %s\n", verified ? "successful" : "failed");
    std::printf(" class = %c\n", npb::class_char(opt.cls));

    const double ntotal = static_cast<double>(C.nx) * C.ny * C.nz;
    const double lg = std::log(ntotal);
    npb::Report R;
    R.name = "FT";
    R.cls = opt.cls;
    R.n1 = C.nx;
    R.n2 = C.ny;
    R.n3 = C.nz;
    R.niter = C.niter;
    R.seconds = t;
    R.mops =
        t > 0 ? 1.0e-6 * ntotal * (14.8157 + 7.19641 * lg + (5.23518 + 7.21113 * lg) * C.niter) / t
              : 0.0;
    R.op_type = "floating point";
    R.verified = verified;
    R.threads = threads;
    npb::print_results(R);
    P.release();
    return verified ? 0 : 1;
}
