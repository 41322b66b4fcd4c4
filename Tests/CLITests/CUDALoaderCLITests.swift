import Foundation
import XCTest

/// The CUDA loader against broken drivers, on any machine: small stand-in `libcuda.so.1` files built
/// here with the C compiler of the toolchain and put first on LD_LIBRARY_PATH. A driver that lacks a
/// symbol, a file that is not a library, a driver reporting a negative GPU count, and a GPU the driver
/// lists but cannot describe must each give doctor a true line and `--device cuda` one line and exit 1;
/// `--device auto` runs on the CPU only when no GPU is there to use. None may crash.
extension CLITests {
    /// A fresh folder under the temporary directory, removed when the test ends.
    func temporaryDirectory() throws -> URL {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("gpt2lab-driver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// Compiles C `body` into `dir/name` as a shared library; skips without a C compiler.
    func compileLibrary(_ body: String, into dir: URL, name: String) throws {
        let source = dir.appendingPathComponent(name + ".c")
        try body.write(to: source, atomically: true, encoding: .utf8)
        let compilers = ["cc", "clang", "gcc"].compactMap { name in
            (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
                .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
                .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        }
        guard let cc = compilers.first else { throw XCTSkip("no C compiler on PATH for the stand-in libraries") }
        let p = Process()
        p.executableURL = cc
        p.arguments = ["-shared", "-fPIC", "-o", dir.appendingPathComponent(name).path, source.path]
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "compiling \(name)")
    }

    /// A fresh folder with a stand-in driver from `body` (C) as libcuda.so.1, beside NVRTC and cuBLAS stand-ins
    /// whose every entry succeeds, so the driver's problem is the one named.
    func standInDriver(_ body: String) throws -> URL {
        let dir = try temporaryDirectory()
        try compileLibrary("typedef unsigned long size_t;\n" + body, into: dir, name: "libcuda.so.1")
        try compileLibrary(["nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetProgramLogSize", "nvrtcGetProgramLog",
                            "nvrtcGetCUBINSize", "nvrtcGetCUBIN", "nvrtcDestroyProgram"].map { "int \($0)() { return 0; }\n" }.joined()
                           + "int nvrtcVersion(int *a, int *b) { *a = 12; *b = 4; return 0; }\n"
                           + "const char *nvrtcGetErrorString(int r) { return \"stand-in\"; }\n", into: dir, name: "libnvrtc.so.12")
        try compileLibrary(["cublasCreate_v2", "cublasDestroy_v2", "cublasSetMathMode", "cublasGemmEx", "cublasGemmStridedBatchedEx"]
                            .map { "int \($0)() { return 0; }\n" }.joined(), into: dir, name: "libcublas.so.12")
        return dir
    }

    /// gpt2lab with `driverDir` first on the library path and no NVRTC/cuBLAS search outside it.
    func gpt2labWithDriver(_ driverDir: URL, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let path = ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"].map { ":" + $0 } ?? ""
        return try gpt2lab(args, environment: ["LD_LIBRARY_PATH": driverDir.path + path, "GPT2LAB_CUDA_LIB_PATH": driverDir.path])
    }

    /// Every driver entry gpt2lab resolves, each succeeding; cuDeviceGetCount gives `count`, cuDeviceGet fails with
    /// `get` for the ordinals `failing` (every one when nil).
    func fullDriver(count: Int, get: Int = 0, failing: Int? = nil) -> String {
        let plain = ["cuInit", "cuDriverGetVersion", "cuDeviceGetName", "cuDeviceGetAttribute", "cuDeviceTotalMem_v2",
                     "cuMemGetInfo_v2", "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRelease_v2", "cuCtxSetCurrent",
                     "cuCtxSynchronize", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2",
                     "cuModuleLoadData", "cuModuleUnload", "cuModuleGetFunction", "cuLaunchKernel"]
        return plain.map { "int \($0)() { return 0; }\n" }.joined()
            + "int cuDeviceGetCount(int *n) { *n = \(count); return 0; }\n"
            + "int cuDeviceGet(int *d, int i) { *d = i; return \(failing.map { "i == \($0) ? \(get) : 0" } ?? "\(get)"); }\n"
            + "int cuGetErrorName(int r, const char **s) { *s = \"CUDA_ERROR_STAND_IN\"; return 0; }\n"
            + "int cuGetErrorString(int r, const char **s) { *s = \"stand-in failure\"; return 0; }\n"
    }

    func testBrokenDriversAreNamedNeverCrash() throws {
        let bin = try fixture("data/test-persuasion.bin"), ck = try fixture("runs/baseline/model.safetensors")
        let notALibrary = try standInDriver("")
        try "not a library\n".write(to: notALibrary.appendingPathComponent("libcuda.so.1"), atomically: true, encoding: .utf8)
        let cases: [(name: String, dir: URL, says: String, autoStops: Bool)] = [
            ("lacks a symbol", try standInDriver("int cuInit(unsigned f) { return 0; }\nint cuDriverGetVersion(int *v) { *v = 12040; return 0; }\n"),
             "has no symbol cuDeviceGetCount", false),
            ("not a library", notALibrary, "does not load", false),
            ("negative count", try standInDriver(fullDriver(count: -1)), "reports -1 GPUs", false),
            ("GPU not queryable", try standInDriver(fullDriver(count: 1, get: 101)),
             "GPU 0 is listed by the driver but cannot be queried: cuDeviceGet failed: CUDA_ERROR_STAND_IN", true),
        ]
        for c in cases {
            let doctor = try gpt2labWithDriver(c.dir, ["doctor"])
            XCTAssertTrue(doctor.status == 0 || doctor.status == 1, "\(c.name): doctor exits normally: \(doctor.err)")
            let cudaLine = doctor.out.split(separator: "\n").first { $0.hasPrefix("cuda ") }.map(String.init) ?? ""
            XCTAssertTrue(cudaLine.hasPrefix("cuda         unavailable: "), "\(c.name): \(doctor.out)")
            XCTAssertTrue(doctor.out.contains(c.says), "\(c.name): doctor names the problem: \(doctor.out)")
            let doctorJSON = try gpt2labWithDriver(c.dir, ["doctor", "--json"])
            XCTAssertNotNil((try json(doctorJSON.out)["cuda"] as? [String: Any])?["problem"] as? String, c.name)

            let cuda = try gpt2labWithDriver(c.dir, ["score", ck, "--test-set", bin, "--max-tokens", "300", "--device", "cuda"])
            XCTAssertEqual(cuda.status, 1, c.name)
            XCTAssertEqual(cuda.err.split(separator: "\n").count, 1, "\(c.name): \(cuda.err)")
            // The same fault, named by the call that met it (a GPU that cannot be queried: cuDeviceGet's failure).
            XCTAssertTrue(cuda.err.contains(c.says.components(separatedBy: "queried: ").last!), "\(c.name): \(cuda.err)")

            let auto = try gpt2labWithDriver(c.dir, ["score", ck, "--test-set", bin, "--max-tokens", "300", "--device", "auto", "--json"])
            if c.autoStops {
                XCTAssertEqual(auto.status, 1, "\(c.name): a GPU that is there but unusable stops auto: \(auto.err)")
                XCTAssertTrue(auto.err.hasPrefix("gpt2lab: --device auto: GPU 0 is listed"), "\(c.name): \(auto.err)")
            } else {
                XCTAssertEqual(auto.status, 0, "\(c.name): auto runs on the CPU: \(auto.err)")
                XCTAssertEqual((try json(auto.out)["runtime"] as? [String: Any])?["device"] as? String, "cpu", c.name)
            }
        }
    }

    /// One GPU that cannot be queried blocks only itself: cuda:1 stops naming it, and doctor exits 1 naming it.
    func testAnUnqueryableGPUBlocksOnlyItself() throws {
        let bin = try fixture("data/test-persuasion.bin"), ck = try fixture("runs/baseline/model.safetensors")
        let dir = try standInDriver(fullDriver(count: 2, get: 101, failing: 1))
        let one = try gpt2labWithDriver(dir, ["score", ck, "--test-set", bin, "--max-tokens", "300", "--device", "cuda:1"])
        XCTAssertEqual(one.status, 1, one.err)
        XCTAssertTrue(one.err.contains("cuDeviceGet failed: CUDA_ERROR_STAND_IN"), one.err)
        let doctor = try gpt2labWithDriver(dir, ["doctor", "--json"])
        XCTAssertEqual(doctor.status, 1, doctor.err)
        XCTAssertTrue(doctor.err.contains("GPU 1 is listed by the driver but cannot be queried"), doctor.err)
        let cuda = try XCTUnwrap(try json(doctor.out)["cuda"] as? [String: Any])
        XCTAssertEqual((cuda["devices"] as? [[String: Any]])?.count, 1, "GPU 0 is still there")
        XCTAssertNotNil((cuda["unusable_gpus"] as? [String: String])?["1"])
    }

    func testCUDAOrdinalBeyondInt32IsRefusedByTheParser() throws {
        let bin = try fixture("data/test-persuasion.bin"), ck = try fixture("runs/baseline/model.safetensors")
        for device in ["cuda:2147483648", "cuda:9223372036854775807", "cuda:-1"] {
            let r = try gpt2lab(["score", ck, "--test-set", bin, "--device", device])
            XCTAssertEqual(r.status, 64, "\(device): \(r.err)")
            XCTAssertTrue(r.err.contains("--device"), r.err)
        }
    }
}
