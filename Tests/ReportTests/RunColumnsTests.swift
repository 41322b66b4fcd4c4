import Foundation
import Plumbing
import XCTest
@testable import Analysis
@testable import Report

/// `RunResult.columns` is the one table results.json and results.csv are written from: every key it
/// names is in the JSON and nothing else is, each CSV cell holds the JSON's value, the CSV's columns
/// are the report's documented ones, and decoding reads back what encoding wrote.
final class RunColumnsTests: XCTestCase {
    func row(_ name: String, sequential: Bool) -> RunResult {
        var r = RunResult(
            name: name, description: "wd 0.01, \"stacked\"", checkpoint: "runs/\(name).safetensors", contentHash: "ab12",
            identicalTo: ["twin", "other"], scoreSource: .cache, params: 1234, loss: 3.25, lossCI: [3.125, 3.375],
            perplexity: exp(3.25), deltaVsBaseline: -0.125, deltaCI: [-0.25, -0.0625], pValue: 0.0005, inNoise: false, verdict: .better,
            deltaVsReference: 0.5, deltaReferenceCI: [0.25, 0.75], gapClosed: 40.5, totalSumSq: 1000.5, decaySumSq: 900.25,
            noDecaySumSq: 100.25, hyperparameters: Hyperparameters(), tauSteps: 2500, tauFraction: 0.5, stackOf: ["a", "b"],
            expectedIfAdditive: -0.375, hessianTrace: 12.5, hessianStderr: 1.5,
            completion: RunCompletion(prompt: "Every", greedy: "Every effort,\nmoves", sample: "Every one", seed: 0),
            sequential: nil, shapeSource: "config.json")
        if sequential {
            r.sequential = SequentialRunResult(method: .paired, windowsScored: 32, windowsTotal: 450, fractionRead: 32.0 / 450, loss: 3.25,
                                               baselineLoss: 3.375, delta: -0.125, deltaCI: [-0.25, -0.0625], stopped: .halfWidth)
            r.stepLosses = [StepLoss(step: 571, checkpoint: "step-571.safetensors", loss: 4.5, lossCI: nil, windowsScored: 450,
                                     windowsTotal: 450, source: .scored, totalSumSq: 800, decaySumSq: 700)]
            r.ciBlocks = BootstrapBlocks(loss: 11, delta: 3)
        }
        return r
    }

    /// The τ cell names the average effective LR, and the mean over updated elements beside it when some were never
    /// updated (TorchTests checks both numbers against their definition).
    func testTauCellNamesTheUpdatedMeanWhereItDiffers() {
        var r = row("a", sequential: false)
        r.hyperparameters.avgEffectiveLR = 3457.17
        XCTAssertEqual(formatTau(r), "2,500 (0.5× run); avg eff. LR 3457")
        r.hyperparameters.avgEffectiveLRUpdated = 3331.42
        XCTAssertEqual(formatTau(r), "2,500 (0.5× run); avg eff. LR 3457 (3331 over updated elements)")
    }

    func json(_ r: RunResult) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: JSON.encoder().encode(r)) as? [String: Any])
    }

    func testResultsJSONHasExactlyTheTablesKeys() throws {
        let keys = Set(RunResult.columns.map(\.key))
        XCTAssertEqual(keys.count, RunResult.columns.count, "no key twice")
        XCTAssertEqual(Set(try json(row("a", sequential: true)).keys), keys)
        // `sequential`, `step_losses` and `ci_block_windows` only where a report has them; every other key always,
        // absent values as null.
        let plain = try json(row("a", sequential: false))
        XCTAssertEqual(Set(plain.keys), keys.subtracting(["sequential", "step_losses", "ci_block_windows"]))
        var empty = row("a", sequential: false)
        empty.pValue = nil; empty.completion = nil
        XCTAssertTrue(try json(empty)["p_value"] is NSNull)
        XCTAssertTrue(try json(empty)["completion"] is NSNull)
    }

    func testCSVCellsHoldTheJSONValues() throws {
        for sequential in [false, true] {
            let r = row("a", sequential: sequential)
            let j = try json(r)
            let cells = RunResult.csvCells(sequential: sequential)
            let values = Dictionary(uniqueKeysWithValues: cells.map { ($0.header, $0.value(r)) })
            for (header, value) in values {
                // A cell named like a key holds that key's value; `_lo` / `_hi` the ends of its interval.
                let (key, index): (String, Int?) = header.hasSuffix("_lo") ? (String(header.dropLast(3)), 0)
                    : header.hasSuffix("_hi") ? (String(header.dropLast(3)), 1) : (header, nil)
                let source = sequential && ["method", "windows_scored", "windows_total", "fraction_read"].contains(key)
                    ? (j["sequential"] as? [String: Any])?[key] : j[key]
                switch (source, index) {
                case let (n as NSNumber, nil) where header != "in_noise":   // a JSON bool, written yes/no
                    XCTAssertEqual(Double(value), n.doubleValue, header)
                case let (a as [NSNumber], i?): XCTAssertEqual(Double(value), a[i].doubleValue, header)
                case let (s as String, nil): XCTAssertEqual(value, s, header)
                default: continue   // in_noise (yes/no), identical_to (joined), completion_greedy, the baseline's loss
                }
            }
            XCTAssertEqual(values["in_noise"], "no")
            XCTAssertEqual(values["identical_to"], "twin other")
            XCTAssertEqual(values["completion_greedy"], "Every effort,\nmoves")
            if sequential { XCTAssertEqual(values["baseline_loss_same_windows"], "3.375") }
        }
    }

    /// The CSV's columns as the report has always written them (docs/report.md's results.csv).
    func testCSVHeaderIsTheReportsColumns() {
        let full = "name,description,loss,loss_ci_lo,loss_ci_hi,delta_vs_baseline,delta_ci_lo,delta_ci_hi,p_value,in_noise,verdict,"
            + "delta_vs_reference,gap_closed,total_sum_sq,decay_sum_sq,tau_steps,tau_fraction,expected_if_additive,"
            + "hessian_trace,hessian_stderr,identical_to,completion_greedy"
        XCTAssertEqual(RunResult.csvCells(sequential: false).map(\.header).joined(separator: ","), full)
        XCTAssertEqual(RunResult.csvCells(sequential: true).map(\.header).joined(separator: ","),
                       full + ",method,windows_scored,windows_total,fraction_read,baseline_loss_same_windows")
    }

    func testDecodingReadsWhatEncodingWrote() throws {
        for sequential in [false, true] {
            let data = try JSON.encoder().encode(row("a", sequential: sequential))
            XCTAssertEqual(try JSON.encoder().encode(try JSONDecoder().decode(RunResult.self, from: data)), data)
        }
    }
}
