import Engine
import Plumbing

// Where a Lanczos run keeps its vectors and applies H. Lanczos (Lanczos.swift) and the top eigenvalues'
// Ritz vectors are written once against this protocol: host arrays for any HVPOperator (HostKrylov), or a
// GPU's memory for the loss Hessian computed there (CUDAKrylov), where the basis never crosses PCIe and
// the reorthogonalisation's j passes over every parameter at step j run at the device's bandwidth.

public protocol KrylovSpace: AnyObject {
    associatedtype Vector
    /// `v` restricted to the operator's blocks (zero elsewhere), as a vector of this space.
    func vector(_ v: [Float]) throws -> Vector
    /// H·v restricted to the blocks, a new vector.
    func product(_ v: Vector) throws -> Vector
    /// xᵀy, accumulated in double.
    func dot(_ x: Vector, _ y: Vector) throws -> Double
    /// y += a·x (a rounded to Float, as BLAS's saxpy takes it).
    func axpy(_ a: Double, _ x: Vector, _ y: inout Vector) throws
    /// v *= s.
    func scale(_ v: inout Vector, by s: Float) throws
    /// Σ_j s_j·basis_j (a Ritz vector).
    func combination(_ s: [Double], of basis: [Vector]) throws -> Vector
    /// The vector's values on the host.
    func host(_ v: Vector) throws -> [Float]
}

/// Host arrays and the operator's `hvp`: the Krylov space of any HVPOperator.
final class HostKrylov<Op: HVPOperator>: KrylovSpace {
    let op: Op
    init(_ op: Op) { self.op = op }
    func vector(_ v: [Float]) -> [Float] { restricted(v, to: op.blocks) }
    func product(_ v: [Float]) throws -> [Float] { restricted(try op.hvp(v), to: op.blocks) }
    func dot(_ x: [Float], _ y: [Float]) -> Double { dsdot(x, y) }
    func axpy(_ a: Double, _ x: [Float], _ y: inout [Float]) { saxpy(a, x, &y) }
    func scale(_ v: inout [Float], by s: Float) { for i in 0..<v.count { v[i] *= s } }
    func combination(_ s: [Double], of basis: [[Float]]) -> [Float] {  // in double, then rounded once
        guard let n = basis.first?.count else { return [] }
        var y = [Double](repeating: 0, count: n)
        for (j, q) in basis.enumerated() where s[j] != 0 {
            for i in 0..<n { y[i] += s[j] * Double(q[i]) }
        }
        return y.map { Float($0) }
    }
    func host(_ v: [Float]) -> [Float] { v }
}

/// The loss Hessian's vectors on the GPU that computes its gradients (GPT2LossHessian with a CUDAGradient).
/// H·v takes ε = δ·‖θ‖/‖v‖ as GPT2LossHessian.epsilon(for:) does, ‖v‖ computed on the device.
final class CUDAKrylov: KrylovSpace {
    let op: GPT2LossHessian
    let gpu: CUDAGradient
    init(_ op: GPT2LossHessian, gpu: CUDAGradient) { self.op = op; self.gpu = gpu }
    func vector(_ v: [Float]) throws -> CUDAVector { try gpu.vector(v) }
    func product(_ v: CUDAVector) throws -> CUDAVector {
        let out = try gpu.vector()
        let norm = try gpu.dot(v, v).squareRoot()
        guard norm > 0 else { return out }
        try gpu.hvp(v, epsilon: op.relativeStep * op.parameterNorm / norm, into: out,
                    inputs: op.inputs, targets: op.targets, b: op.b, t: op.t)
        return out
    }
    func dot(_ x: CUDAVector, _ y: CUDAVector) throws -> Double { try gpu.dot(x, y) }
    func axpy(_ a: Double, _ x: CUDAVector, _ y: inout CUDAVector) throws { try gpu.axpby(y, Float(a), x, 1, y) }
    func scale(_ v: inout CUDAVector, by s: Float) throws { try gpu.axpby(v, s, v, 0, v) }
    func combination(_ s: [Double], of basis: [CUDAVector]) throws -> CUDAVector {
        let y = try gpu.vector()
        for (j, q) in basis.enumerated() where s[j] != 0 { try gpu.axpby(y, Float(s[j]), q, 1, y) }
        return y
    }
    func host(_ v: CUDAVector) throws -> [Float] { try gpu.values(v) }
}

/// Host arrays for a run of `steps` Lanczos steps, when they fit in `available` bytes (nil: unknown, taken as
/// fitting); else `HessianError.lanczosMemory`, naming `deviceFree` too when a device was considered.
func hostKrylov<Op: HVPOperator>(_ op: Op, steps: Int, available: Int? = availableMemoryBytes(),
                                 deviceFree: Int? = nil) throws -> HostKrylov<Op> {
    try requireLanczosRoom(steps: steps, dimension: op.dimension, available: available, deviceFree: deviceFree)
    return HostKrylov(op)
}

/// Bytes a Lanczos run of `steps` steps holds: its basis and `lanczosWorkVectors` more vectors.
func lanczosBytes(steps: Int, dimension: Int) -> Int { (steps + lanczosWorkVectors) * dimension * 4 }

extension GPT2LossHessian {
    /// On the GPU when the run's vectors fit in its free memory now (less `deviceMemoryMargin`), else on the host.
    public func krylovSpace(steps: Int) throws -> any KrylovSpace {
        guard let gpu else { return try hostKrylov(self, steps: steps) }
        let room = try lanczosDeviceRoom(gpu)
        if lanczosBytes(steps: steps, dimension: dimension) <= room { return CUDAKrylov(self, gpu: gpu) }
        return try hostKrylov(self, steps: steps, deviceFree: room)
    }
}

/// Device memory a Lanczos basis leaves to cuBLAS's workspace and the driver (bytes).
let deviceMemoryMargin = 512 << 20

/// What a Lanczos basis may take on `gpu` now: its free memory less `deviceMemoryMargin`.
func lanczosDeviceRoom(_ gpu: CUDAGradient) throws -> Int { try gpu.freeBytes() - deviceMemoryMargin }
