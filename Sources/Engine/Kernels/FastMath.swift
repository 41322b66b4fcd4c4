// Vectorised exp and tanh for SIMD16<Float> (Cephes-style range reduction + polynomial).
// Written with plain arithmetic, compare-and-select and bit casts only: Swift's generic SIMD
// helpers (pointwiseMin/Max, rounded, clamped, int↔float conversions) do not vectorise and

// cost ~100× more. Max relative error of expSIMD is about 2 ulp over [-87, 88]; below -87
// results are ~1e-38 rather than 0, which no sum notices.

/// 1.5·2²³: adding it rounds a float in ±2²² to an integer kept in the low mantissa bits.
@usableFromInline let roundMagic: Float = 12_582_912

/// Lane-wise max. Swift's `pointwiseMax` handles NaN lane by lane through memory and does
/// not vectorise; a compare-and-select does.
@inline(__always)
func maxSIMD(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: a .< b) }

@inline(__always)
func minSIMD(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: b .< a) }

@inline(__always)
func expSIMD(_ x0: SIMD16<Float>) -> SIMD16<Float> {
    let x = minSIMD(maxSIMD(x0, SIMD16(repeating: -87.3)), SIMD16(repeating: 88.3))
    // n = round(x / ln2) via the magic-number trick; r = x − n·ln2 (two-part ln2)
    let t = x * 1.44269504088896341 + roundMagic
    let fx = t - roundMagic
    var r = x - fx * 0.693359375
    r = r + fx * 2.12194440e-4
    var p = SIMD16<Float>(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * (r * r) + r + 1
    // 2^n: the low bits of t hold n + 0x400000 (from the magic); shift into the exponent.
    let n = unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((n &+ 127) &<< 23, to: SIMD16<Float>.self)
    return y * scale
}

@inline(__always)
func tanhSIMD(_ x: SIMD16<Float>) -> SIMD16<Float> {
    // tanh(x) = 1 − 2 / (exp(2x) + 1), exact to ~1e-7 absolute; x clamped to ±20 (tanh = ±1).
    let xc = minSIMD(maxSIMD(x, SIMD16(repeating: -20)), SIMD16(repeating: 20))
    let e = expSIMD(xc * 2)
    return 1 - 2 / (e + 1)
}
