import CCUDA

// Where a forward runs (`--device auto|cpu|cuda[:N]`) and what this machine offers for CUDA: the
// driver, the GPUs, and where NVRTC and cuBLAS were found (Sources/CCUDA loads them at run time, so
// a machine without CUDA runs the CPU engine and says what is missing).

/// A failure of the CUDA path, one line naming the call or the missing piece.
public struct CUDAError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where a scoring forward runs.
public enum ComputeDevice: Equatable, Sendable, CustomStringConvertible {
    /// GPU 0 when the driver lists it and the libraries load, else the CPU (Analysis' openOnDevice, settleDevice).
    case auto
    case cpu
    /// GPU N (CUDA's numbering).
    case cuda(Int)

    /// "auto", "cpu", "cuda" (GPU 0) or "cuda:N" (N a CUDA ordinal, 0 ≤ N < 2³¹); nil for anything else.
    public init?(argument: String) {
        switch argument {
        case "auto": self = .auto
        case "cpu": self = .cpu
        case "cuda": self = .cuda(0)
        default:
            guard argument.hasPrefix("cuda:"), let n = Int32(argument.dropFirst(5)), n >= 0 else { return nil }
            self = .cuda(Int(n))
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .cpu: return "cpu"
        case let .cuda(n): return "cuda:\(n)"
        }
    }
}

/// How f32 products run on the GPU (`--gpu-math`); bf16 models always use bf16 products.
public enum GPUMath: String, Codable, Sendable, CaseIterable {
    /// Each product as three TF32 tensor-core products of (hi, lo) splits, hi·hi + hi·lo + lo·hi (the
    /// dropped lo·lo is ~2⁻²² relative): rounding of f32's order at tensor-core speed. The default.
    case split = "3xtf32"
    /// cuBLAS's FP32 on the CUDA cores, no TF32.
    case f32
    /// One TF32 product (10-bit mantissas, ~1e-3 relative error per product): only when asked.
    case tf32

    public static let `default`: GPUMath = .split

    var cValue: Int32 {
        switch self {
        case .f32: return Int32(GL_CUDA_MATH_F32)
        case .split: return Int32(GL_CUDA_MATH_SPLIT)
        case .tf32: return Int32(GL_CUDA_MATH_TF32)
        }
    }
}

/// One GPU, as `doctor` and `score --json` ("gpu") describe it.
public struct GPUInfo: Codable, Sendable, Equatable {
    public var ordinal: Int
    public var name: String
    /// "9.0" for sm_90.
    public var computeCapability: String
    public var memoryBytes: Int
    /// Where the kernels came from (NVRTC compile or the on-disk cache); set once a model is on the GPU.
    public var kernels: String?
    /// Most device memory the scorer held at once (weights + scratch), bytes; set after scoring.
    public var peakBytes: Int?
    /// How f32 products ran (GPUMath's name); nil for a bf16 model and before a model is on the GPU.
    public var math: String?
    /// How a bf16 model's attention ran: "fused (…)" or "products (why)"; nil for f32 and before a model is there.
    public var attention: String?

    enum CodingKeys: String, CodingKey {
        case ordinal, name, kernels, math, attention
        case computeCapability = "compute_capability", memoryBytes = "memory_bytes", peakBytes = "peak_bytes"
    }
}

/// One of the three libraries: where it was found, or why it was not.
public struct CUDALibrary: Codable, Sendable, Equatable {
    public var name: String
    public var path: String?
    public var problem: String?
}

/// What `gpt2lab doctor` reports about CUDA on this machine.
public struct CUDAStatus: Codable, Sendable, Equatable {
    /// "13.0" (the driver's CUDA version), nil without a driver.
    public var driverVersion: String?
    public var nvrtcVersion: String?
    public var devices: [GPUInfo]
    public var libraries: [CUDALibrary]
    /// Why CUDA scoring cannot run here (the first missing piece), nil when it can.
    public var problem: String?
    /// GPUs the driver lists but that could not be queried, each "GPU N …: why": there but unusable, so asking
    /// for one (`cuda:N`, or `auto` for GPU 0) stops with that line rather than running on the CPU. The others
    /// stay usable; `problem` names GPU 0's.
    public var unusableGPUs: [String: String]?
    /// GPU 0's self-checks (doctor runs them when CUDA can run; CUDASelfCheck.swift), one line each.
    public var selfCheck: [String]?

    enum CodingKeys: String, CodingKey {
        case devices, libraries, problem, selfCheck = "self_check", unusableGPUs = "unusable_gpus"
        case driverVersion = "driver_version", nvrtcVersion = "nvrtc_version"
    }

    /// Loads the libraries (once per process) and lists the devices.
    public static func current() -> CUDAStatus {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        let loadFailed = gl_cuda_load(&err) != 0
        var problem: String? = loadFailed ? String(cString: err) : nil
        let names = ["libcuda (driver)", "libnvrtc", "libcublas"]
        let libraries = (0..<Int(GL_CUDA_LIB_COUNT)).map { i -> CUDALibrary in
            var why: UnsafePointer<CChar>? = nil
            let path = gl_cuda_library(Int32(i), &why).map { String(cString: $0) }
            return CUDALibrary(name: names[i], path: path, problem: path == nil ? why.map { String(cString: $0) } : nil)
        }
        let nv = gl_cuda_nvrtc_version()
        var status = CUDAStatus(driverVersion: nil, nvrtcVersion: nv < 0 ? nil : "\(nv / 1000).\(nv % 1000 / 10)",
                                devices: [], libraries: libraries, problem: problem)
        guard libraries[0].path != nil else { return status }
        var version: Int32 = 0, count: Int32 = 0
        if gl_cuda_devices(&version, &count, &err) != 0 {
            status.problem = String(cString: err)
            return status
        }
        status.driverVersion = "\(version / 1000).\(version % 1000 / 10)"
        for i in 0..<Int(count) {   // gl_cuda_devices checked 0 ≤ count ≤ GL_CUDA_MAX_DEVICES
            do { status.devices.append(try gpuInfo(ordinal: i)) } catch {
                // A GPU the driver lists but cannot describe cannot be used either: say so, never "ready".
                let why = "GPU \(i) is listed by the driver but cannot be queried: \(error)"
                if i == 0 { problem = problem ?? why }
                status.unusableGPUs = (status.unusableGPUs ?? [:]).merging([String(i): why]) { a, _ in a }
            }
        }
        if count == 0 { problem = problem ?? "the NVIDIA driver sees no GPU" }
        status.problem = problem
        return status
    }
}

/// Name, compute capability and memory of GPU `ordinal`.
func gpuInfo(ordinal: Int) throws -> GPUInfo {
    var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
    var name = [CChar](repeating: 0, count: 256)
    var major: Int32 = 0, minor: Int32 = 0
    var bytes = 0
    guard gl_cuda_device_info(Int32(ordinal), &name, &major, &minor, &bytes, &err) == 0 else {
        throw CUDAError(String(cString: err))
    }
    return GPUInfo(ordinal: ordinal, name: String(cString: name), computeCapability: "\(major).\(minor)", memoryBytes: bytes)
}

/// Compiles the kernel source for sm_`arch` with NVRTC, without a GPU: the cubin's size, or the
/// compile error. Throws when NVRTC is not found (the message says where it was looked for).
public func cudaCompileCheck(arch: Int) throws -> Int {
    var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
    var bytes = 0
    guard gl_cuda_compile_check(Int32(arch), &bytes, &err) == 0 else { throw CUDAError(String(cString: err)) }
    return bytes
}
