// Vectorised exp and tanh for SIMD16<Float> (Cephes-style range reduction + polynomial).
// Max relative error of expSIMD is about 2 ulp over [-87, 88]; inputs below -87 flush to 0.

@inline(__always)
func expSIMD(_ x0: SIMD16<Float>) -> SIMD16<Float> {
    // Explicit compare-and-replace: `clamped` and `replace(with:where:)` compile to per-lane loops
    // through the stack here (about 10× slower in a micro-benchmark); `replacing` vectorises.
    let lo = SIMD16<Float>(repeating: -87.3), hi = SIMD16<Float>(repeating: 88.3)
    let x = x0.replacing(with: lo, where: x0 .< lo).replacing(with: hi, where: x0 .> hi)
    // n = round(x / ln2); r = x - n*ln2 (two-part ln2 for accuracy)
    // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits, so
    // n comes from a bit cast: SIMD16<Int32>(SIMD16<Float>) is a slow generic per-lane conversion.
    let magic = SIMD16<Float>(repeating: 12_582_912)
    let shifted = magic.addingProduct(x, SIMD16(repeating: 1.44269504088896341))
    let fx = shifted - magic
    // Swift does not contract a*b+c into an FMA by itself; addingProduct is one vfmadd.
    var r = x.addingProduct(fx, SIMD16(repeating: -0.693359375))
    r = r.addingProduct(fx, SIMD16(repeating: 2.12194440e-4))
    // exp(r) on [-ln2/2, ln2/2]
    var p = SIMD16<Float>(repeating: 1.3981999507e-3).addingProduct(SIMD16(repeating: 1.9875691500e-4), r)
    p = SIMD16<Float>(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 5.0000001201e-1).addingProduct(p, r)
    let y = (r + 1).addingProduct(p, r * r)
    // scale by 2^n
    let n = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
    let bits = (n &+ 127) &<< 23
    let scale = unsafeBitCast(bits, to: SIMD16<Float>.self)
    return (y * scale).replacing(with: 0, where: x0 .< lo)
}

@inline(__always)
func tanhSIMD(_ x: SIMD16<Float>) -> SIMD16<Float> {
    // tanh(x) = sign(x) * (1 - 2 / (exp(2|x|) + 1)); exact enough for GELU (abs err < 1e-7).
    let a = x.replacing(with: -x, where: x .< 0)
    let a2 = a * 2, cap = SIMD16<Float>(repeating: 40)
    let e = expSIMD(a2.replacing(with: cap, where: a2 .> cap))
    let big = 1 - 2 / (e + 1)
    // small |x|: use x - x^3/3 + 2x^5/15 to avoid cancellation
    let x2 = a * a
    var poly = x2 * SIMD16<Float>(repeating: -17.0 / 315) + (2.0 / 15)
    poly = poly * x2 + (-1.0 / 3)
    poly = poly * x2 + 1
    let small = a * poly
    let t = big.replacing(with: small, where: a .< 0.0625)
    return t.replacing(with: -t, where: x .< 0)
}

/// Lane-wise max. Swift's `pointwiseMax` handles NaN lane by lane through memory and does
/// not vectorise (168 ns/element in logsumexp); a compare-and-select does (1.4 ns).
@inline(__always)
func maxSIMD(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: a .< b) }
