// EP (Embarrassingly Parallel): Gaussian deviates by the Marsaglia polar method from the NPB
// random number generator; sums and annulus counts checked against the NPB 3.4 values.
// Clean-room implementation from the specification in ../SPEC.md.
#include <omp.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "npb.h"

namespace {

constexpr int kBatchLog2 = 16;  // each batch: 2^16 pairs of uniform numbers
constexpr long kPairsPerBatch = 1L << kBatchLog2;
constexpr int kRings = 10;              // counts of max(|X|,|Y|) in [l, l+1), l = 0..9
constexpr double kMult = 1220703125.0;  // 5^13
constexpr double kSeed = 271828183.0;
constexpr int kChunk = 2048;  // uniforms generated and consumed per step (L1)
constexpr double kEpsilon = 1.0e-8;

struct ClassParams {
    int m;              // 2^m pairs of uniforms in total
    double sx, sy, gc;  // reference sums and Gaussian pair count
};

ClassParams params_for(npb::Class c) {
    switch (c) {
        case npb::Class::S:
            return {24, 1.051299420395306e+07, 1.051517131857535e+07, 13176389.0};
        case npb::Class::W:
            return {25, 2.102505525182392e+07, 2.103162209578822e+07, 26354769.0};
        case npb::Class::A:
            return {28, 1.682235632304711e+08, 1.682195123368299e+08, 210832767.0};
        case npb::Class::B:
            return {30, 6.728927543423024e+08, 6.728951822504275e+08, 843345606.0};
        case npb::Class::C:
            return {32, 2.691444083862931e+09, 2.691519118724585e+09, 3373275903.0};
    }
    return {24, 0, 0, 0};
}

struct Sums {
    double sx = 0, sy = 0;
    std::array<double, kRings> rings{};
};

// Generates the uniforms of one batch in L1-sized chunks and accumulates its deviates.
inline void run_batch(double state, double* buf, Sums& acc) {
    double sx = 0, sy = 0;
    for (long done = 0; done < 2 * kPairsPerBatch; done += kChunk) {
        npb::vranlc(kChunk, &state, kMult, buf);
        for (int i = 0; i < kChunk; i += 2) {
            const double u = 2.0 * buf[i] - 1.0;
            const double v = 2.0 * buf[i + 1] - 1.0;
            const double r2 = u * u + v * v;
            if (r2 <= 1.0) {
                const double f = std::sqrt(-2.0 * std::log(r2) / r2);
                const double gx = std::fabs(u * f);
                const double gy = std::fabs(v * f);
                const int ring = static_cast<int>(gx > gy ? gx : gy);
                if (ring < kRings) acc.rings[ring] += 1.0;
                sx += gx;
                sy += gy;
            }
        }
    }
    acc.sx += sx;
    acc.sy += sy;
}

bool close_to(double got, double want) {
    const double err = std::fabs((got - want) / want);
    return !std::isnan(err) && err <= kEpsilon;
}

}  // namespace

int main(int argc, char** argv) {
    const npb::Options opt = npb::parse_args(argc, argv, "ep");
    const ClassParams p = params_for(opt.cls);
    const long batches = 1L << (p.m - kBatchLog2);

    std::printf("\n\n NAS Parallel Benchmarks (vtasos clean-room C++/OpenMP) - EP Benchmark\n\n");
    std::printf(" Number of random numbers generated: %15.0f\n", std::ldexp(1.0, p.m + 1));
    std::printf(" Number of available threads:        %15d\n\n", omp_get_max_threads());

    static_assert(2 * kPairsPerBatch % kChunk == 0);
    Sums total;
    int threads = 1;

    const double t0 = npb::wtime();
    // Batch k starts at state seed * a^(2^(16+1) k): independent of every other batch.
    const double batch_mult = npb::lcg_power(kMult, 2 * kPairsPerBatch);
#pragma omp parallel
    {
        std::vector<double> buf(kChunk);
        Sums mine;
#pragma omp single nowait
        threads = omp_get_num_threads();
#pragma omp for schedule(static)
        for (long k = 0; k < batches; ++k) {
            run_batch(npb::lcg_skip(kSeed, batch_mult, k), buf.data(), mine);
        }
#pragma omp critical(npb_ep_sum)
        {
            total.sx += mine.sx;
            total.sy += mine.sy;
            for (int l = 0; l < kRings; ++l) total.rings[l] += mine.rings[l];
        }
    }
    double gc = 0;
    for (int l = 0; l < kRings; ++l) gc += total.rings[l];
    const double seconds = npb::wtime() - t0;

    if (opt.corrupt) total.sx *= 1.0 + 1.0e-6;
    const bool verified =
        close_to(total.sx, p.sx) && close_to(total.sy, p.sy) && close_to(gc, p.gc);

    std::printf(" EP Benchmark Results:\n\n");
    std::printf(" CPU Time =%10.3f\n", seconds);
    std::printf(" N = 2^%5d\n", p.m);
    std::printf(" No. Gaussian Pairs =%15.0f\n", gc);
    std::printf(" Sums = %25.15e %25.15e\n", total.sx, total.sy);
    std::printf(" Counts:\n");
    for (int l = 0; l < kRings; ++l) std::printf("%3d%15.0f\n", l, total.rings[l]);

    npb::Report r;
    r.name = "EP";
    r.cls = opt.cls;
    r.n1 = p.m + 1;
    r.niter = 0;
    r.seconds = seconds;
    r.mops = std::ldexp(1.0, p.m + 1) / seconds / 1.0e6;
    r.op_type = "Random numbers generated";
    r.verified = verified;
    r.threads = threads;
    npb::print_results(r);
    return verified ? 0 : 1;
}
