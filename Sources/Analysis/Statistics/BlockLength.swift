// The block length of the window bootstrap. Windows cut from one text in order are not independent:
// neighbouring windows share a chapter, a topic, a style (on the fixture test set the lag-1
// autocorrelation of per-window loss is 0.38, of a paired difference 0.18), so resampling single
// windows understates the spread of a test loss and of a paired Δ. The bootstrap therefore resamples
// runs of consecutive windows (Politis and Romano's circular block bootstrap), as long as the
// dependence of the series needs: the automatic block length of Politis and White (2004) with the
// correction of Patton, Politis and White (2009), computed as the `arch` package's
// `optimal_block_length` computes its "circular" column (tests/reference checks against it), then
// rounded up. The rule gives blocks of a few windows even to a series without dependence (4.85 on 400
// independent values, BlockLengthTests' first series); on a few dozen windows that makes the 95% intervals run a few
// points short (FrequencyCalibrationTests), on hundreds it costs little.

import Foundation

/// Politis–White's estimated optimal block length for the circular block bootstrap of the mean of `x`
/// (in order), not rounded: b = (2ĝ²/d̂ · n)^(1/3) with d̂ = (4/3)·σ̂⁴, ĝ = Σ_{|k|≤M} λ(k/M)|k|γ̂(k),
/// σ̂² = Σ_{|k|≤M} λ(k/M)γ̂(k), λ the flat-top window min(1, 2(1 − |x|)); M = 2·max(m̂, 1) capped at
/// m_max = ⌈√n⌉ + K, where m̂ is the first lag from which K = max(5, ⌊log₁₀ n⌋) autocorrelations in a row
/// lie inside ±2√(log₁₀ n / n); b is capped at ⌈min(3√n, n/3)⌉. nil when it is undefined (fewer than
/// 2 values, no variance, a non-finite value).
public func politisWhiteBlockLength(_ x: [Double]) -> Double? {
    let n = x.count
    guard n >= 2, x.allSatisfy(\.isFinite) else { return nil }
    let mean = x.reduce(0, +) / Double(n)
    let e = x.map { $0 - mean }
    let nd = Double(n)
    let bMax = min(3 * nd.squareRoot(), nd / 3).rounded(.up)
    let kn = max(5, Int(log10(nd)))
    let mMax = Int(nd.squareRoot().rounded(.up)) + kn
    let band = 2 * (log10(nd) / nd).squareRoot()
    func dot(_ a: Int, _ b: Int, _ count: Int) -> Double {   // Σ_j e[a+j]·e[b+j]
        var s = 0.0
        for j in 0..<max(count, 0) { s += e[a + j] * e[b + j] }
        return s
    }
    // head[k] = Σ_{j<k} e[j]², tail[k] = Σ_{j≥k} e[j]²: each a running sum of non-negative terms, so neither
    // loses digits to a subtraction.
    var head = [Double](repeating: 0, count: n + 1), tail = head
    for j in 0..<n { head[j + 1] = head[j] + e[j] * e[j] }
    for j in stride(from: n - 1, through: 0, by: -1) { tail[j] = tail[j + 1] + e[j] * e[j] }
    var acv = [Double](repeating: 0, count: mMax + 1), absCorr = acv
    var firstQuiet: Int? = nil
    for i in 0...mMax {
        let cross = i < n ? dot(i, 0, n - i) : 0
        acv[i] = cross / nd
        // arch's normalisation: the sums of squares of the series without its first, and without its last, i+1 values.
        let v1 = i + 1 < n ? tail[i + 1] : 0, v2 = i + 1 < n ? head[n - i - 1] : 0
        absCorr[i] = abs(cross) / (v1 * v2).squareRoot()
        if i >= kn, firstQuiet == nil, absCorr[(i - kn)..<i].allSatisfy({ $0 < band }) { firstQuiet = i - kn }
    }
    let m = min(firstQuiet.map { 2 * max($0, 1) } ?? mMax, mMax)
    var g = 0.0, longRun = acv[0]
    for k in stride(from: 1, through: m, by: 1) {
        let r = Double(k) / Double(m)
        let weight = r <= 0.5 ? 1 : 2 * (1 - r)
        g += 2 * weight * Double(k) * acv[k]
        longRun += 2 * weight * acv[k]
    }
    let d = 4.0 / 3.0 * longRun * longRun
    guard d > 0, d.isFinite else { return nil }
    let b = pow(2 * g * g / d, 1.0 / 3.0) * pow(nd, 1.0 / 3.0)
    guard b.isFinite else { return nil }
    return min(b, bMax)
}

/// The whole block length the window bootstrap uses for `x`: Politis–White's rounded up, at least 1, at most n
/// (1 when it is undefined).
public func bootstrapBlockLength(_ x: [Double]) -> Int {
    guard let b = politisWhiteBlockLength(x) else { return 1 }
    return min(max(1, Int(b.rounded(.up))), x.count)
}
