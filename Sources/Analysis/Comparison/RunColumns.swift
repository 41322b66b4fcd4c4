// The report's run rows as one table of columns: each `RunResult` field's results.json key (how it
// is written and read back) and its results.csv cells. JSON and CSV both walk `RunResult.columns`,
// so a new statistic is a field plus one entry here. results.json's keys come out sorted (Plumbing's
// encoder), so the table's order is the CSV's.

import Foundation

/// A results.json key of a run row.
public struct RunColumnKey: CodingKey {
    public let stringValue: String
    public init(_ s: String) { stringValue = s }
    public init?(stringValue s: String) { stringValue = s }
    public var intValue: Int? { nil }
    public init?(intValue: Int) { nil }
}

/// One cell of a results.csv row: its header and the value as text (numbers as Swift prints them, absent as "").
public struct RunCSVCell {
    public let header: String
    /// Only in reports scored sequentially (manifest `ci`).
    public let sequentialOnly: Bool
    public let value: (RunResult) -> String
    init(_ header: String, sequentialOnly: Bool = false, _ value: @escaping (RunResult) -> String) {
        self.header = header; self.sequentialOnly = sequentialOnly; self.value = value
    }
}

/// One field of a run row: its results.json key, how it is written and read, and its CSV cells.
public struct RunColumn {
    public let key: String
    let encode: (RunResult, inout KeyedEncodingContainer<RunColumnKey>) throws -> Void
    let decode: (inout RunResult, KeyedDecodingContainer<RunColumnKey>) throws -> Void
    public let csv: [RunCSVCell]

    /// A field every row has.
    static func field<V: Codable>(_ key: String, _ path: WritableKeyPath<RunResult, V>, csv: [RunCSVCell] = []) -> RunColumn {
        RunColumn(key: key, encode: { r, c in try c.encode(r[keyPath: path], forKey: RunColumnKey(key)) },
                  decode: { r, c in r[keyPath: path] = try c.decode(V.self, forKey: RunColumnKey(key)) }, csv: csv)
    }

    /// A field a row may lack: written as null, or (`ifPresent`) left out, so reports without it are unchanged.
    static func optional<V: Codable>(_ key: String, _ path: WritableKeyPath<RunResult, V?>, ifPresent: Bool = false,
                                     csv: [RunCSVCell] = []) -> RunColumn {
        RunColumn(key: key, encode: { r, c in
            if ifPresent { try c.encodeIfPresent(r[keyPath: path], forKey: RunColumnKey(key)) } else { try c.encode(r[keyPath: path], forKey: RunColumnKey(key)) }
        }, decode: { r, c in r[keyPath: path] = try c.decodeIfPresent(V.self, forKey: RunColumnKey(key)) }, csv: csv)
    }
}

private func text(_ x: Double?) -> String { x.map { String($0) } ?? "" }

extension RunResult {
    /// The run row's columns, in results.csv order (see the file comment).
    public static var columns: [RunColumn] {
        typealias Cell = RunCSVCell
        return [
            .field("name", \.name, csv: [Cell("name") { $0.name }]),
            .optional("description", \.description, csv: [Cell("description") { $0.description ?? "" }]),
            .field("checkpoint", \.checkpoint),
            .field("content_hash", \.contentHash),
            .field("score_source", \.scoreSource),
            .field("params", \.params),
            .field("loss", \.loss, csv: [Cell("loss") { text($0.loss) }]),
            .field("loss_ci", \.lossCI, csv: [Cell("loss_ci_lo") { text($0.lossCI[0]) }, Cell("loss_ci_hi") { text($0.lossCI[1]) }]),
            .field("perplexity", \.perplexity),
            .optional("delta_vs_baseline", \.deltaVsBaseline, csv: [Cell("delta_vs_baseline") { text($0.deltaVsBaseline) }]),
            .optional("delta_ci", \.deltaCI, csv: [Cell("delta_ci_lo") { text($0.deltaCI?[0]) }, Cell("delta_ci_hi") { text($0.deltaCI?[1]) }]),
            .optional("p_value", \.pValue, csv: [Cell("p_value") { text($0.pValue) }]),
            .optional("in_noise", \.inNoise, csv: [Cell("in_noise") { $0.inNoise.map { $0 ? "yes" : "no" } ?? "" }]),
            .optional("verdict", \.verdict, csv: [Cell("verdict") { $0.verdict?.rawValue ?? "" }]),
            .optional("delta_vs_reference", \.deltaVsReference, csv: [Cell("delta_vs_reference") { text($0.deltaVsReference) }]),
            .optional("delta_reference_ci", \.deltaReferenceCI),
            .optional("gap_closed", \.gapClosed, csv: [Cell("gap_closed") { text($0.gapClosed) }]),
            .field("total_sum_sq", \.totalSumSq, csv: [Cell("total_sum_sq") { text($0.totalSumSq) }]),
            .field("decay_sum_sq", \.decaySumSq, csv: [Cell("decay_sum_sq") { text($0.decaySumSq) }]),
            .field("no_decay_sum_sq", \.noDecaySumSq),
            .field("hyperparameters", \.hyperparameters),
            .optional("tau_steps", \.tauSteps, csv: [Cell("tau_steps") { text($0.tauSteps) }]),
            .optional("tau_fraction", \.tauFraction, csv: [Cell("tau_fraction") { text($0.tauFraction) }]),
            .field("stack_of", \.stackOf),
            .optional("expected_if_additive", \.expectedIfAdditive, csv: [Cell("expected_if_additive") { text($0.expectedIfAdditive) }]),
            .optional("hessian_trace", \.hessianTrace, csv: [Cell("hessian_trace") { text($0.hessianTrace) }]),
            .optional("hessian_stderr", \.hessianStderr, csv: [Cell("hessian_stderr") { text($0.hessianStderr) }]),
            .field("identical_to", \.identicalTo, csv: [Cell("identical_to") { $0.identicalTo.joined(separator: " ") }]),
            .optional("completion", \.completion, csv: [Cell("completion_greedy") { $0.completion?.greedy ?? "" }]),
            .optional("shape_source", \.shapeSource),
            // Only in reports that ask for them, so a report without `ci` / `loss_across_steps` is unchanged.
            .optional("sequential", \.sequential, ifPresent: true, csv: [
                Cell("method", sequentialOnly: true) { $0.sequential?.method.rawValue ?? "" },
                Cell("windows_scored", sequentialOnly: true) { $0.sequential.map { String($0.windowsScored) } ?? "" },
                Cell("windows_total", sequentialOnly: true) { $0.sequential.map { String($0.windowsTotal) } ?? "" },
                Cell("fraction_read", sequentialOnly: true) { text($0.sequential?.fractionRead) },
                Cell("baseline_loss_same_windows", sequentialOnly: true) { text($0.sequential?.baselineLoss) },
            ]),
            .optional("step_losses", \.stepLosses, ifPresent: true),
            .optional("ci_block_windows", \.ciBlocks, ifPresent: true),
        ]
    }

    /// results.csv's cells, in order; the sequential ones only when `sequential`.
    public static func csvCells(sequential: Bool) -> [RunCSVCell] {
        columns.flatMap(\.csv).filter { sequential || !$0.sequentialOnly }
    }

    /// Every column is written, absent values as null (but `sequential` and `step_losses`), so readers can rely on the keys.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: RunColumnKey.self)
        for column in Self.columns { try column.encode(self, &c) }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: RunColumnKey.self)
        self = .blank
        for column in Self.columns { try column.decode(&self, c) }
    }

    /// A row with no values, which decoding fills in.
    private static var blank: RunResult {
        RunResult(name: "", description: nil, checkpoint: "", contentHash: "", identicalTo: [], scoreSource: .scored, params: 0,
                  loss: 0, lossCI: [], perplexity: 0, deltaVsBaseline: nil, deltaCI: nil, pValue: nil, inNoise: nil, verdict: nil,
                  deltaVsReference: nil, deltaReferenceCI: nil, gapClosed: nil, totalSumSq: 0, decaySumSq: 0, noDecaySumSq: 0,
                  hyperparameters: Hyperparameters(), tauSteps: nil, tauFraction: nil, stackOf: [], expectedIfAdditive: nil,
                  hessianTrace: nil, hessianStderr: nil, completion: nil, sequential: nil, shapeSource: nil)
    }
}
