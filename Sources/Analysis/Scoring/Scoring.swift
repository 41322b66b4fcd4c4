import Engine
import Foundation
import TestSets

/// Losses of a run of windows, accumulated in float64 in window order.
public struct WindowScores: Sendable {
    /// Σ NLL over each window's scored positions (nats).
    public var nllSums: [Double]
    /// Scored positions per window.
    public var counts: [Int]
    public var totalNLL: Double { nllSums.reduce(0, +) }
    public var tokensScored: Int { counts.reduce(0, +) }
    /// Mean NLL per window.
    public var windowLosses: [Double] { zip(nllSums, counts).map { $0 / Double(max($1, 1)) } }
    /// Mean NLL over every scored token.
    public var loss: Double { totalNLL / Double(max(tokensScored, 1)) }
}

/// A forward gave NaN or ±Inf (finite weights whose activations overflow f32): no loss or per-token quantity from
/// it means anything, so it is refused rather than printed.
public struct NonFiniteForward: Error, LocalizedError, Sendable {
    public let model: String, window: Int
    public var position: Int? = nil
    public init(model: String, window: Int, position: Int? = nil) { self.model = model; self.window = window; self.position = position }
    public var errorDescription: String? {
        "\(model): the forward gives a non-finite loss (NaN or ±Inf) in window \(window)\(position.map { ", position \($0)" } ?? "")"
            + ": its activations overflow f32; no loss is given"
    }
}

extension WindowScores {
    /// Throws NonFiniteForward naming `model` and the first window whose NLL sum is not finite, numbered as
    /// `windows` lists them (these scores' windows in the plan; nil: in order from 0).
    public func requireFinite(_ model: String, windows: [Int]? = nil) throws {
        if let w = nllSums.firstIndex(where: { !$0.isFinite }) { throw NonFiniteForward(model: model, window: windows?[w] ?? w) }
    }
}

/// Activations for one batch shape at a time, for loops whose batches come grouped by shape (full
/// batches, then a short tail): a new shape drops the previous set before the new one is made, so peak
/// memory is weights + one set, not one per shape, and each set is reused as long as its shape lasts.
struct OneShapeActivations<Value> {
    private var held: (b: Int, t: Int, value: Value)?
    mutating func value(b: Int, t: Int, make: () -> Value) -> Value {
        if held?.b != b || held?.t != t { held = nil; held = (b, t, make()) }
        return held!.value
    }
}

/// Scores `windows` of `tokens` with `model`, `batch` windows of equal length per forward.
/// `progress(done, total)` is called after each batch with scored-token counts.
public func scoreWindows(model: GPT2Model, tokens: [Int32], windows: [Window], batch: Int,
                         progress: ((Int, Int) -> Void)? = nil) -> WindowScores {
    var cached = OneShapeActivations<Activations>()
    return scoreBatches(tokens: tokens, windows: windows, batch: batch, progress: progress) { b, T, inputs, targets, from in
        let acts = cached.value(b: b, t: T) { Activations(config: model.config, b: b, t: T, keepAll: false) }
        inputs.withUnsafeBufferPointer { ip in
            targets.withUnsafeBufferPointer { tp in
                model.forward(inputs: ip.baseAddress!, targets: tp.baseAddress!, scoredFrom: from, acts: acts)
            }
        }
        return Array(UnsafeBufferPointer(start: acts.nll, count: b * T))
    }
}

/// The same on a GPU copy of the model (Engine's CUDAModel): the same batches and per-window sums.
public func scoreWindows(gpu: CUDAModel, tokens: [Int32], windows: [Window], batch: Int,
                         progress: ((Int, Int) -> Void)? = nil) throws -> WindowScores {
    try scoreBatches(tokens: tokens, windows: windows, batch: batch, progress: progress) { b, T, inputs, targets, _ in
        try gpu.nll(inputs: inputs, targets: targets, b: b, t: T)
    }
}

/// Batches of up to `batch` consecutive windows of one length: `forward(b, T, inputs, targets, scoredFrom)`
/// gives each position's NLL (b·T), and each window's sum over its scored positions is taken in float64
/// in position order.
func scoreBatches(tokens: [Int32], windows: [Window], batch: Int, progress: ((Int, Int) -> Void)?,
                  forward: (Int, Int, [Int32], [Int32], [Int]) throws -> [Float]) rethrows -> WindowScores {
    var result = WindowScores(nllSums: [Double](repeating: 0, count: windows.count),
                              counts: windows.map(\.scoredCount))
    let total = result.tokensScored
    var done = 0
    var i = 0
    let B = max(1, batch)
    while i < windows.count {
        // Gather up to B consecutive windows of the same length.
        let T = windows[i].length
        var j = i
        while j < windows.count && j - i < B && windows[j].length == T { j += 1 }
        let b = j - i
        var inputs = [Int32](repeating: 0, count: b * T)
        var targets = [Int32](repeating: 0, count: b * T)
        for k in 0..<b {
            let w = windows[i + k]
            for t in 0..<T {
                inputs[k * T + t] = tokens[w.start + t]
                targets[k * T + t] = tokens[w.start + t + 1]
            }
        }
        let from = (0..<b).map { windows[i + $0].scoredFrom }
        let nll = try forward(b, T, inputs, targets, from)
        for k in 0..<b {
            var s = 0.0
            for t in from[k]..<T { s += Double(nll[k * T + t]) }
            result.nllSums[i + k] = s
            done += T - from[k]
        }
        progress?(done, total)
        i = j
    }
    return result
}
