// The empirical spectral density (ESD) of a weight matrix, as WeightWatcher computes it.
//
// WeightWatcher takes a 2-D weight W as stored (either orientation: N = the larger dimension, M = the
// smaller; a Conv1D [in, out] and a Linear [out, in] give the same numbers), widens it to float64,
// takes its singular values with LAPACK's divide-and-conquer SVD (scipy.linalg.svd, gesdd, on the CPU),
// keeps the M largest and squares them: the ESD is the M eigenvalues of WᵀW, *not* divided by N
// (its `normalize` option is gone). We do the same with OpenBLAS's dgesdd on the float64 copy.

import CBLAS
import Foundation

/// Errors of the spectral computation (LAPACK failures; never expected on finite input).
public enum SpectraError: Error, CustomStringConvertible {
    case nonFinite(String)
    case lapack(String, Int32)
    public var description: String {
        switch self {
        case let .nonFinite(what): return "\(what) has NaN or infinite values; its spectrum is undefined"
        case let .lapack(what, info): return "LAPACK dgesdd failed on \(what) (info \(info))"
        }
    }
}

/// Singular values of W (rows, cols) row-major, in float64, descending (min(rows, cols) of them).
/// `what` names the matrix in errors.
public func singularValues(_ w: UnsafeBufferPointer<Float>, rows: Int, cols: Int, what: String = "matrix") throws -> [Double] {
    precondition(w.count == rows * cols && rows > 0 && cols > 0, "internal: singularValues shape")
    // Row-major (rows, cols) is column-major (cols, rows): Wᵀ, which has the same singular values.
    var a = [Double](repeating: 0, count: rows * cols)
    for i in 0..<a.count {
        let x = Double(w[i])
        guard x.isFinite else { throw SpectraError.nonFinite(what) }
        a[i] = x
    }
    var m = Int32(cols), n = Int32(rows), lda = Int32(cols), one: Int32 = 1, info: Int32 = 0
    let k = Int(min(m, n))
    var s = [Double](repeating: 0, count: k)
    var iwork = [Int32](repeating: 0, count: 8 * k)
    var u = [Double](repeating: 0, count: 1), vt = [Double](repeating: 0, count: 1)
    var query = [Double](repeating: 0, count: 1), lwork: Int32 = -1
    var jobz = CChar(UInt8(ascii: "N"))
    dgesdd_(&jobz, &m, &n, &a, &lda, &s, &u, &one, &vt, &one, &query, &lwork, &iwork, &info)
    guard info == 0 else { throw SpectraError.lapack(what, info) }
    lwork = Int32(query[0].rounded(.up))
    var work = [Double](repeating: 0, count: Int(lwork))
    dgesdd_(&jobz, &m, &n, &a, &lda, &s, &u, &one, &vt, &one, &work, &lwork, &iwork, &info)
    guard info == 0 else { throw SpectraError.lapack(what, info) }
    return s
}

/// WeightWatcher's ESD of W (rows, cols): the squared singular values, ascending.
public func esdEigenvalues(_ w: UnsafeBufferPointer<Float>, rows: Int, cols: Int, what: String = "matrix") throws -> [Double] {
    try singularValues(w, rows: rows, cols: cols, what: what).map { $0 * $0 }.sorted()
}

/// Where the Marchenko–Pastur bulk of a randomised copy of W ends, in the ESD's units, and how many
/// eigenvalues lie above it. This is WeightWatcher's `mp_fit` edge with σ_mp = 1: it rescales the ESD
/// to mean 1 (Wscale² = M / Σλ), puts the bulk edge at (1 + 1/√Q)², Q = N/M, and adds its Tracy–Widom
/// margin √((1/√Q)·edge^(2/3)·M^(−2/3)). σ_mp = 1 is exactly what an element-shuffled W (same entries,
/// no correlations) has on that scale; WeightWatcher instead fits σ_mp to each ESD by kernel density,
/// and `randomize` counts the spikes of one random shuffle — both noisy, neither reproduced here. The
/// edge assumes zero-mean entries: a matrix whose entries share a sizeable mean (an untied LM head) keeps
/// a rank-one spike even shuffled, which WeightWatcher's shuffle counts and this edge does not.
public func marchenkoPasturEdge(_ evals: [Double], n: Int, m: Int) -> (edge: Double, spikes: Int) {
    let total = evals.reduce(0, +)
    guard total > 0, m > 0 else { return (0, 0) }
    let q = Double(n) / Double(m)
    let bulkMax = (1 + 1 / q.squareRoot()) * (1 + 1 / q.squareRoot())
    let tw = 1 / q.squareRoot() * Foundation.pow(bulkMax, 2.0 / 3) * Foundation.pow(Double(m), -2.0 / 3)
    let edge = (bulkMax + tw.squareRoot()) * total / Double(evals.count)
    return (edge, evals.filter { $0 > edge }.count)
}
