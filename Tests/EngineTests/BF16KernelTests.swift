import XCTest
@testable import Engine

/// bf16 conversion by bit pattern (round to nearest even, NaN kept NaN, overflow to infinity) and
/// the bf16 product against its plain-loop reference, on both its paths (GEMV for ≤ 4 rows, widened
/// weight blocks otherwise) and with output counts that are no multiple of the block.
final class BF16KernelTests: XCTestCase {
    var rng = SplitMix(seed: 11)

    func testRoundingByBitPattern() {
        // (f32 bits, expected bf16 bits)
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),  // 1.0
            (0x3F80_8000, 0x3F80),  // tie, even below: stays
            (0x3F81_8000, 0x3F82),  // tie, odd below: up to even
            (0x3F80_8001, 0x3F81),  // above the tie: up
            (0x3F80_7FFF, 0x3F80),  // below the tie: down
            (0xBFC0_0000, 0xBFC0),  // -1.5
            (0x7F7F_FFFF, 0x7F80),  // largest float rounds to +inf
            (0x7F80_0000, 0x7F80),  // +inf
            (0xFF80_0000, 0xFF80),  // -inf
            (0x0000_0001, 0x0000),  // smallest subnormal rounds to +0
            (0x8000_0000, 0x8000),  // -0
        ]
        // 3 copies: the vector loop and its scalar tail both see every case.
        let bits = Array(repeating: cases.map(\.0), count: 3).flatMap { $0 }
        var x = bits.map { Float(bitPattern: $0) }
        var out = [UInt16](repeating: 0, count: x.count)
        bf16FromF32(&out, x, count: x.count)
        for (i, b) in bits.enumerated() {
            let want = cases[i % cases.count].1
            XCTAssertEqual(out[i], want, String(format: "0x%08X → 0x%04X, want 0x%04X", b, out[i], want))
        }
        // NaNs stay NaN, including one whose payload sits only in the bits that truncation drops.
        let nans: [UInt32] = [0x7FC0_0000, 0x7F80_0001, 0xFF80_0001, 0x7FFF_FFFF]
        var nout = [UInt16](repeating: 0, count: nans.count)
        bf16FromF32(&nout, nans.map { Float(bitPattern: $0) }, count: nans.count)
        for (b, h) in zip(nans, nout) {
            XCTAssertTrue(Float(bitPattern: UInt32(h) << 16).isNaN, String(format: "0x%08X → 0x%04X", b, h))
        }
        // Widening is exact, and rounding in place agrees with the conversion.
        var wide = [Float](repeating: 0, count: out.count)
        f32FromBF16(&wide, out, count: out.count)
        for i in 0..<out.count { XCTAssertEqual(wide[i].bitPattern, UInt32(out[i]) << 16) }
        roundToBF16(&x, count: x.count)
        for i in 0..<x.count { XCTAssertEqual(x[i].bitPattern, UInt32(out[i]) << 16, "index \(i)") }
    }

    /// Both GEMM paths where oneDNN runs here (its timing at start measured a rate), whichever was chosen.
    var paths: [BF16GEMMPath] { bf16GEMM.onednnRate == nil ? [.widenedSGEMM] : [.widenedSGEMM, .onednn] }

    func testMatmulBF16MatchesNaiveOnBothPaths() {
        if bf16GEMM.onednnRate == nil { print("oneDNN not usable here (\(bf16GEMM.onednnImpl)): widened path only") }
        for (n, c, oc) in [(1, 64, 300), (4, 37, 65), (5, 64, 300), (37, 19, 23), (300, 48, 1700), (257, 768, 769)] {
            let x = (0..<n * c).map { _ in rng.nextFloat() }
            let wf = (0..<oc * c).map { _ in rng.nextFloat() }, b = (0..<oc).map { _ in rng.nextFloat() }
            var w = [UInt16](repeating: 0, count: oc * c)
            bf16FromF32(&w, wf, count: wf.count)
            var naive = [Float](repeating: 0, count: n * oc)
            matmulForwardBF16Naive(&naive, x, w, b, n: n, c: c, oc: oc)
            for path in paths {
                var results: [[Float]] = []
                for threads in [1, 2] {
                    var inp = x, out = [Float](repeating: .nan, count: n * oc)
                    matmulForwardBF16(&out, &inp, w, b, n: n, c: c, oc: oc, threads: threads, path: path)
                    XCTAssertLessThan(maxDiff(out, naive), 1e-4, "\(path) n=\(n) c=\(c) oc=\(oc) threads=\(threads)")
                    results.append(out)
                }
                XCTAssertEqual(results[0], results[1], "\(path) n=\(n) c=\(c) oc=\(oc): results depend on the thread count")
                // Without a bias too (the LM head).
                var inp = x, out = [Float](repeating: .nan, count: n * oc), ref = out
                matmulForwardBF16(&out, &inp, w, nil, n: n, c: c, oc: oc, threads: 2, path: path)
                matmulForwardBF16Naive(&ref, x, w, nil, n: n, c: c, oc: oc)
                XCTAssertLessThan(maxDiff(out, ref), 1e-4, "\(path) no bias, n=\(n) c=\(c) oc=\(oc)")
            }
        }
    }

    func testNoticeWhenBF16GainsNoSpeed() {
        XCTAssertNil(bf16SpeedNotice(BF16GEMMChoice(path: .onednn, sgemmRate: 170, onednnRate: 400, onednnImpl: "brg:avx512_core_bf16")))
        let emulated = bf16SpeedNotice(BF16GEMMChoice(path: .widenedSGEMM, sgemmRate: 60, onednnRate: 30, onednnImpl: "brg:avx512_core"))
        XCTAssertEqual(emulated?.contains("oneDNN's bf16 kernel here is brg:avx512_core, without bf16 instructions"), true, emulated ?? "nil")
        let none = bf16SpeedNotice(BF16GEMMChoice(path: .widenedSGEMM, sgemmRate: nil, onednnRate: nil, onednnImpl: "oneDNN CPU engine unavailable"))
        XCTAssertEqual(none?.contains("oneDNN CPU engine unavailable"), true, none ?? "nil")
        XCTAssertEqual(none?.contains("\n"), false, "one line")
        XCTAssertEqual(bf16SpeedNotice() == nil, bf16GEMM.path == .onednn)
    }

    /// The path is a rule of the CPU (oneDNN's kernel has bf16 instructions), never a timing: two processes on one
    /// machine take the same path under any load, so a shard and the unsharded run agree to the last bit.
    func testBF16PathIsARuleOfTheKernel() {
        for (impl, native) in [("brg:avx512_core_bf16", true), ("brg:avx512_core_amx_bf16", true), ("brg:avx512_core_amx", true),
                               ("brg:avx512_core", false), ("gemm:jit", false), ("", false), ("oneDNN matmul failed", false)] {
            XCTAssertEqual(bf16NativeKernel(impl), native, impl)
        }
        if bf16GEMM.onednnRate != nil, !bf16GEMM.onednnImpl.contains("disagreed") {
            XCTAssertEqual(bf16GEMM.path == .onednn, bf16NativeKernel(bf16GEMM.onednnImpl), bf16GEMM.onednnImpl)
        }
        XCTAssertEqual(chooseBF16GEMM().path, bf16GEMM.path, "chosen again, the same")
    }

    func testRuntimeSaysWhichBF16Path() {
        let r = RuntimeInfo.current(threads: 1, precision: .bf16)
        XCTAssertEqual(r.bf16GEMM, bf16GEMM.path.rawValue)
        XCTAssertNotNil(r.bf16Rates?["widened-sgemm"])
        XCTAssertTrue(r.precisionDetail.contains(bf16GEMM.path == .onednn ? "oneDNN" : "widened"), r.precisionDetail)
        XCTAssertNil(RuntimeInfo.current(threads: 1).bf16GEMM, "f32 runs name no bf16 path")
    }
}
