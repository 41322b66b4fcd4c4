// Axis ranges and "nice" tick positions (1-2-5 steps; powers of ten on a log axis).

import Foundation

/// A value axis: the data range it shows and where its ticks go.
struct Axis {
    var lo: Double
    var hi: Double
    var ticks: [Double]
    var step: Double          // tick spacing (linear), used for label precision
    var scale: AxisScale

    /// Position of `v` in [0, 1] along the axis (not clamped); nil for values the axis can't show.
    func fraction(_ v: Double) -> Double? {
        guard v.isFinite else { return nil }
        switch scale {
        case .linear: return (v - lo) / (hi - lo)
        case .log:
            guard v > 0 else { return nil }
            return (log10(v) - log10(lo)) / (log10(hi) - log10(lo))
        }
    }

    func label(_ v: Double) -> String { scale == .log ? logTickLabel(v) : tickLabel(v, step: step) }
}

/// The 1-2-5 step closest to `span / target`.
func niceStep(span: Double, target: Int) -> Double {
    let raw = span / Double(max(1, target))
    let mag = pow(10, floor(log10(raw)))
    let f = raw / mag
    let m: Double = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10
    return m * mag
}

/// Linear axis over [min, max] of `values`, padded by `pad` of the span each side, with ticks
/// every 1-2-5 step inside. Degenerate input (no values, one value, all equal) gets a unit-ish
/// span around the value. `integer` keeps the step ≥ 1 (layer indices, steps).
func linearAxis(_ values: [Double], target: Int = 6, pad: Double = 0.05, includeZero: Bool = false,
                integer: Bool = false) -> Axis {
    var vs = values.filter(\.isFinite)
    if includeZero { vs.append(0) }
    var lo = vs.min() ?? 0, hi = vs.max() ?? 1
    if hi - lo <= max(abs(hi), abs(lo)) * 1e-12 {      // one value, or all equal
        let d = lo == 0 ? 1 : abs(lo) * 0.1
        lo -= d; hi += d
    } else {
        let span = hi - lo
        // Don't pad below a zero the data sits on (bars, norms start at 0).
        lo = (includeZero && lo == 0) ? 0 : lo - pad * span
        hi = (includeZero && hi == 0) ? 0 : hi + pad * span
    }
    var step = niceStep(span: hi - lo, target: target)
    if integer { step = max(step, 1) }
    let first = ceil(lo / step - 1e-9)
    var ticks: [Double] = []
    var k = first
    while k * step <= hi + step * 1e-9 && ticks.count < 100 {
        let t = k * step
        ticks.append(abs(t) < step * 1e-9 ? 0 : t)
        k += 1
    }
    return Axis(lo: lo, hi: hi, ticks: ticks, step: step, scale: .linear)
}

/// Log axis over the positive `values`: whole decades, ticks at 1, 2, 5 × 10ᵏ when it spans
/// fewer than three decades, at 10ᵏ otherwise.
func logAxis(_ values: [Double]) -> Axis {
    let vs = values.filter { $0.isFinite && $0 > 0 }
    guard var lo = vs.min(), var hi = vs.max() else {
        return Axis(lo: 1, hi: 10, ticks: [1, 10], step: 1, scale: .log)
    }
    let pad = max((log10(hi) - log10(lo)) * 0.05, 0.02)
    lo = pow(10, log10(lo) - pad); hi = pow(10, log10(hi) + pad)
    let d0 = Int(floor(log10(lo))), d1 = Int(ceil(log10(hi)))
    let mantissas: [Double] = d1 - d0 <= 2 ? [1, 2, 5] : [1]
    var ticks: [Double] = []
    for d in d0...d1 { for m in mantissas { let t = m * pow(10, Double(d)); if t >= lo * 0.9999 && t <= hi * 1.0001 { ticks.append(t) } } }
    if ticks.count < 2 {   // less than a decade without a 1-2-5 tick inside: label the ends
        ticks = [lo, hi]
    }
    return Axis(lo: lo, hi: hi, ticks: ticks, step: 0, scale: .log)
}

/// Tick label with just enough decimals for `step`; large or tiny numbers in exponent form.
func tickLabel(_ v: Double, step: Double) -> String {
    if v == 0 { return "0" }
    let a = abs(v)
    if step >= 1e5 && a < 1e12 {            // millions: "0.5M … 3.0M", not "500000 … 3e6"
        let decimals = max(0, Int(-floor(log10(step / 1e6) + 1e-9)))
        return String(format: "%.\(decimals)fM", v / 1e6).replacingOccurrences(of: "-", with: "−")
    }
    if a >= 1e6 || (a < 1e-4) {
        return String(format: "%.\(max(1, significantDigits(step: step, value: v)))g", v)
            .replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e+", with: "e")
            .replacingOccurrences(of: "e-0", with: "e-")
    }
    let decimals = step > 0 ? max(0, Int(-floor(log10(step) + 1e-9))) : 2
    return String(format: "%.\(decimals)f", v).replacingOccurrences(of: "-", with: "−")
}

private func significantDigits(step: Double, value: Double) -> Int {
    guard step > 0 else { return 3 }
    return Int(floor(log10(abs(value))) - floor(log10(step))) + 1
}

/// Log-axis tick label: plain numbers between 0.001 and 10⁵, "1e6"-style outside.
func logTickLabel(_ v: Double) -> String {
    if v >= 1e-3 && v < 1e5 {
        return String(format: "%.6g", v)
    }
    return String(format: "%.0e", v).replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e+", with: "e")
        .replacingOccurrences(of: "e-0", with: "e-")
}

/// Compact number for value labels and legends: 3 significant digits (1,000–9,999 whole), ten thousands up as
/// "k"/"M". The bands are cut where %.3g would round up into the next one (999,600 is "1M", not "1e+03k").
func compactNumber(_ v: Double) -> String {
    guard v.isFinite else { return "—" }
    let a = abs(v)
    if a >= 999_500 && a < 999.5e9 { return String(format: "%.3gM", v / 1e6) }
    if a >= 1e4 && a < 999_500 { return String(format: "%.3gk", v / 1e3) }
    if a >= 999.5 && a < 1e4 { return String(format: "%.0f", v) }     // "2516", where %.3g writes "2.52e+03"
    if (a >= 1e-3 && a < 999.5) || a == 0 { return String(format: "%.3g", v) }
    return String(format: "%.2e", v)
}
