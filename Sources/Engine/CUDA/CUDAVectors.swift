import CCUDA

// Layout-shaped f32 vectors in a CUDAGradient's device memory, and the few operations a Krylov run needs on
// them (Analysis/Hessian/Krylov.swift): a Lanczos basis kept here never crosses PCIe, and its full
// reorthogonalisation — at step j, j passes over every parameter — runs at the GPU's memory bandwidth
// instead of the host's. Dot products are summed in double in fixed tiles (GL_DOT_TILE), the tiles added
// in order on the host, so a dot is the same number on every run.

/// One vector of the gradient's layout on its device; freed when the last reference goes.
public final class CUDAVector {
    let owner: CUDAGradient
    let address: UInt64
    init(owner: CUDAGradient, address: UInt64) { self.owner = owner; self.address = address }
    deinit { gl_cuda_free(owner.ctx, address, owner.layout.count * 4) }
}

extension CUDAGradient {
    /// Device memory free now, in bytes.
    public func freeBytes() throws -> Int {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        var free = 0
        try check(gl_cuda_free_bytes(ctx, &free, &err), err, "cuMemGetInfo")
        return free
    }

    /// A new device vector: `values` (layout-shaped) with the tensors the checkpoint does not store zeroed,
    /// or zeros when nil.
    public func vector(_ values: [Float]? = nil) throws -> CUDAVector {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        var p: UInt64 = 0
        try check(gl_cuda_alloc_bytes(ctx, layout.count * 4, &p, &err), err, "a Lanczos vector")
        let v = CUDAVector(owner: self, address: p)
        if let values {
            precondition(values.count == layout.count, "internal: \(values.count) values for \(layout.count)")
            try values.withUnsafeBytes { try check(gl_cuda_copy_in(ctx, p, $0.baseAddress, $0.count, &err), err, "uploading a vector") }
            try zeroAbsent(p)
        } else {
            try check(gl_cuda_zero(ctx, p, layout.count, &err), err, "zeroing a vector")
        }
        return v
    }

    /// The vector's values on the host.
    public func values(_ v: CUDAVector) throws -> [Float] {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        var out = [Float](repeating: 0, count: layout.count)
        let rc = out.withUnsafeMutableBytes { gl_cuda_download(ctx, $0.baseAddress, v.address, $0.count, &err) }
        try check(rc, err, "downloading a vector")
        return out
    }

    /// out = a·x + b·y, elementwise (out may be x or y).
    public func axpby(_ out: CUDAVector, _ a: Float, _ x: CUDAVector, _ b: Float, _ y: CUDAVector) throws {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        try check(gl_cuda_axpby(ctx, out.address, a, x.address, b, y.address, layout.count, &err), err, "a Lanczos update")
    }

    /// xᵀy over the whole layout: tiles of GL_DOT_TILE products summed in double, the tiles added in order.
    public func dot(_ x: CUDAVector, _ y: CUDAVector) throws -> Double {
        if dotParts == 0 { dotParts = try allocate(dotTiles(layout.count) * 8, "a dot product's sums") }
        return try tiledDots([(x.address, y.address, layout.count)], into: dotParts, "a dot product")[0]
    }

    /// Tiles of GL_DOT_TILE products a dot over `count` floats sums on the device.
    func dotTiles(_ count: Int) -> Int { (count + Int(GL_DOT_TILE) - 1) / Int(GL_DOT_TILE) }

    /// Each pair's xᵀy over its `count` floats: the tiles' double sums go to `parts` (room for every pair's
    /// tiles), come down in one copy, and each pair's tiles are added in order on the host.
    func tiledDots(_ pairs: [(x: UInt64, y: UInt64, count: Int)], into parts: UInt64, _ what: String) throws -> [Double] {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        let tiles = pairs.map { dotTiles($0.count) }
        var at = 0
        for (p, k) in zip(pairs, tiles) {
            try check(gl_cuda_dot_tiles(ctx, parts + UInt64(at * 8), p.x, p.y, p.count, &err), err, what)
            at += k
        }
        var sums = [Double](repeating: 0, count: at)
        let rc = sums.withUnsafeMutableBytes { gl_cuda_download(ctx, $0.baseAddress, parts, $0.count, &err) }
        try check(rc, err, "downloading \(what)")
        var out: [Double] = [], i = 0
        for k in tiles { out.append(sums[i..<(i + k)].reduce(0, +)); i += k }
        return out
    }

    /// out = (g(θ + εv) − g(θ − εv)) / (2ε), with the tensors the checkpoint does not store zeroed (v is zero there:
    /// every vector of this file is); nothing crosses PCIe but the token ids.
    public func hvp(_ v: CUDAVector, epsilon: Double, into out: CUDAVector,
                    inputs: [Int32], targets: [Int32], b: Int, t: Int) throws {
        try difference(epsilon: epsilon, direction: v.address, into: out.address, inputs: inputs, targets: targets, b: b, t: t)
        try zeroAbsent(out.address)
    }

    func zeroAbsent(_ p: UInt64) throws {
        var err = [CChar](repeating: 0, count: Int(GL_CUDA_ERR))
        for r in absent { try check(gl_cuda_zero(ctx, p + UInt64(r.lowerBound * 4), r.count, &err), err, "zeroing absent tensors") }
    }
}
