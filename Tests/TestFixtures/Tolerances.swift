// Tolerances shared by tests that compare a Monte-Carlo estimate with a reference.

import Foundation

/// The 3σ point (two-sided 99.73 %) for a mean whose σ is itself estimated from n probes: Student's t
/// with n − 1 degrees of freedom, by its Cornish–Fisher expansion around z = 3 (4.05 for n = 10, 3.16
/// for n = 50, 3 as n grows).
public func studentThreeSigma(samples n: Int) -> Double {
    let z = 3.0, nu = Double(max(n - 1, 1))
    return z + (z * z * z + z) / (4 * nu) + (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * nu * nu)
}
