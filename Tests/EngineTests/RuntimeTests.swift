import XCTest
@testable import Engine

/// The kernels the process runs are chosen from what the CPU reports (Runtime.swift).
final class RuntimeTests: XCTestCase {
    func testVectorCPUNeverGetsAGenericGEMMKernel() {
        _ = CPUBackend(threads: 1)  // what every model does first
        let info = RuntimeInfo.current(threads: 1)
        XCTAssertFalse(info.gemmKernel.isEmpty)
        if info.isa == "avx2" || info.isa == "avx512" {
            XCTAssertGreaterThanOrEqual(openblasCoreTier(info.gemmKernel), 2,
                                        "CPU \(info.cpu) has \(info.isa) but OpenBLAS runs \(info.gemmKernel)")
            XCTAssertFalse(["prescott", "generic", "core2", "nehalem", "penryn", "atom"].contains(info.gemmKernel.lowercased()))
            XCTAssertFalse(info.genericGEMMOnVectorCPU)
            XCTAssertNotEqual(info.elementwise, "baseline", "the elementwise clone should match the CPU")
        }
        XCTAssertEqual(info.precision, "f32")
    }

    func testCoreTiers() {
        XCTAssertEqual(openblasCoreTier("Prescott"), 0)
        XCTAssertEqual(openblasCoreTier("Sandybridge"), 1)
        XCTAssertEqual(openblasCoreTier("Haswell"), 2)
        XCTAssertEqual(openblasCoreTier("Zen"), 2)
        XCTAssertEqual(openblasCoreTier("SkylakeX"), 3)
        XCTAssertEqual(openblasCoreTier("Cooperlake"), 3)
    }

    func testProfileCountsKernelCalls() {
        KernelProfile.start()
        var out = [Float](repeating: 0, count: 4)
        matmulForward(&out, [1, 2, 3, 4], [1, 0, 1, 1], nil, n: 2, c: 2, oc: 2, threads: 1)
        let totals = KernelProfile.stop()
        XCTAssertEqual(totals[.matmul]?.calls, 1)
        XCTAssertEqual(totals[.matmul]?.flops, 16)
        matmulForward(&out, [1, 2, 3, 4], [1, 0, 1, 1], nil, n: 2, c: 2, oc: 2, threads: 1)
        XCTAssertFalse(KernelProfile.enabled)
        // A stopped profile leaves nothing for the next one to find (tests in one process share it).
        XCTAssertTrue(KernelProfile.stop().isEmpty)
    }
}
