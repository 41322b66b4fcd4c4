import Analysis
import Checkpoints
import Engine
import Foundation

/// A score report with the "runtime" (and, with --profile, "profile") objects beside its fields.
struct WithRuntime: Encodable {
    let report: ScoreReport
    let runtime: RuntimeInfo
    let profile: ProfileSummary?
    /// Where the model's head count came from (Checkpoints' ShapeSource).
    let shapeSource: ShapeSource

    enum Keys: String, CodingKey { case runtime, profile, shapeSource = "shape_source" }

    func encode(to encoder: Encoder) throws {
        try report.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(runtime, forKey: .runtime)
        try c.encode(shapeSource, forKey: .shapeSource)
        try c.encodeIfPresent(profile, forKey: .profile)
    }
}

/// `score --profile`: wall time per kernel class over the scoring runs, and the FLOP rate of the products.
struct ProfileSummary: Encodable {
    struct Row: Encodable {
        let calls: Int
        let seconds: Double
        let share: Double
        let gflops: Double
        let gflopsPerSecond: Double?
        enum CodingKeys: String, CodingKey {
            case calls, seconds, share, gflops, gflopsPerSecond = "gflops_per_second"
        }
    }
    let kernels: [String: Row]
    /// Scoring seconds (the reports' `seconds`) and the part of them no kernel accounts for.
    let seconds: Double
    let otherSeconds: Double
    /// All products' FLOPs / scoring seconds.
    let endToEndGflopsPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case kernels, seconds, otherSeconds = "other_seconds", endToEndGflopsPerSecond = "end_to_end_gflops_per_second"
    }

    init(_ totals: [KernelClass: KernelTotals], seconds: Double) {
        var rows: [String: Row] = [:]
        for k in KernelClass.allCases {
            let t = totals[k] ?? KernelTotals()
            rows[k.rawValue] = Row(calls: t.calls, seconds: t.seconds, share: seconds > 0 ? t.seconds / seconds : 0,
                                   gflops: t.flops / 1e9, gflopsPerSecond: t.flops > 0 && t.seconds > 0 ? t.flops / t.seconds / 1e9 : nil)
        }
        kernels = rows
        self.seconds = seconds
        otherSeconds = seconds - totals.values.map(\.seconds).reduce(0, +)
        endToEndGflopsPerSecond = seconds > 0 ? totals.values.map(\.flops).reduce(0, +) / seconds / 1e9 : 0
    }

    var table: String {
        var lines = ["kernel          calls   seconds   share   GFLOP/s"]
        for k in KernelClass.allCases {
            guard let r = kernels[k.rawValue] else { continue }
            lines.append(k.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
                         + String(format: " %6d %9.3f %6.1f%%", r.calls, r.seconds, 100 * r.share)
                         + (r.gflopsPerSecond.map { String(format: " %9.1f", $0) } ?? ""))
        }
        lines.append(String(format: "other                 %9.3f %6.1f%%", otherSeconds, seconds > 0 ? 100 * otherSeconds / seconds : 0))
        lines.append(String(format: "end to end: %.1f GFLOP/s over %.3f s", endToEndGflopsPerSecond, seconds))
        return lines.joined(separator: "\n")
    }
}

/// "cuda:0 NVIDIA H200 (compute capability 9.0, 139.8 GiB), 1.52 GiB held at most, kernels …".
func describeGPU(_ g: GPUInfo) -> String {
    String(format: "cuda:%d %@ (compute capability %@, %.1f GiB)", g.ordinal, g.name, g.computeCapability,
           Double(g.memoryBytes) / 1_073_741_824)
        + (g.peakBytes.map { String(format: ", %.2f GiB held at most", Double($0) / 1_073_741_824) } ?? "")
        + (g.kernels.map { "; kernels \($0)" } ?? "")
}
