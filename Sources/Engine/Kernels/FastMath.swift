import CKernels

// Row primitives on the C kernels (Sources/CKernels/vec.c): vectorised exp (Cephes-style range
// reduction + polynomial, max relative error ≈ 2 ulp over [-87, 88], inputs below -87.3 flush
// to 0), max and sums, compiled once per ISA level and picked at load time, so a plain
// `swift build -c release` runs the same AVX-512/AVX2 code as the Makefile build.

/// max over row[0..<count] (−∞ when count is 0).
@inline(__always)
func rowMax(_ row: UnsafePointer<Float>, count: Int) -> Float { gl_max(row, count) }

/// In place row[j] = exp(row[j] − shift); returns Σ of the new values.
@inline(__always)
func expShiftedInPlace(_ row: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
    gl_exp_shifted_inplace(row, count, shift)
}

/// (max, Σ exp(row[j] − max)) over `count` values.
@inline(__always)
func maxAndSumExp(_ row: UnsafePointer<Float>, count: Int) -> (Float, Float) {
    let m = gl_max(row, count)
    return (m, gl_sum_exp_shifted(row, count, m))
}
