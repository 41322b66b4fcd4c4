import Analysis
import Foundation
import TestFixtures
import XCTest
@testable import Report

/// The report's Hessian section against PyTorch (the fixtures' double-backprop traces and power-iteration
/// eigenvalues, `expected/baseline.json` → `hessian`) and its weight-spectra section against WeightWatcher
/// 0.7.7 (tests/reference/spectra_reference.py → AnalysisTests/Fixtures/spectra-weightwatcher.json), on the
/// fixture runs and the baseline's step checkpoints.
final class WhyReportTests: XCTestCase {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = tests.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures").path

    func manifest(_ runs: [String], maxTokens: Int? = nil) -> ReportManifest {
        ReportManifest(path: "why.toml", title: "why", testSet: Self.fixtures + "/data/test-persuasion.bin", context: 256,
                       maxTokens: maxTokens, baseline: runs[0],
                       runs: runs.map { RunSpec(name: $0, checkpoint: Self.fixtures + "/runs/\($0)/model.safetensors") })
    }

    struct PyTorchHessian: Decodable {
        let trace: Double, stderr: Double, samples: Int, batch: Int, context: Int
        let per_tensor_trace: [String: Double]
        let top_eigenvalues: [Double]
    }

    /// The fixture's checkpoint names (Raschka layout) → `hessianRole`.
    static func role(_ name: String) -> String? {
        if name.hasPrefix("tok_emb.") || name.hasPrefix("pos_emb.") { return "embeddings" }
        if name.hasPrefix("final_norm.") || name.contains(".norm1.") || name.contains(".norm2.") { return "layernorm" }
        if name.hasPrefix("out_head.") { return "lm_head" }
        for (part, role) in [(".att.W_query.", "attn.qkv"), (".att.W_key.", "attn.qkv"), (".att.W_value.", "attn.qkv"),
                             (".att.out_proj.", "attn.proj"), (".ff.layers.0.", "mlp.fc"), (".ff.layers.2.", "mlp.proj")]
        where name.contains(part) { return role }
        return nil
    }

    /// Trace and roles within t-based 3σ of PyTorch's per-tensor traces summed by role, λ₁ within PyTorch's
    /// power-iteration bound plus our residual, the density's quadrature a probability measure whose nodes
    /// stay below λ₁, and the section on the page.
    func testHessianSectionMatchesPyTorch() throws {
        guard FileManager.default.fileExists(atPath: Self.fixtures) else { throw missingFixtures("shared/fixtures not found at \(Self.fixtures)") }
        struct File: Decodable { let hessian: PyTorchHessian }
        let exp = try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/expected/baseline.json"))).hessian
        XCTAssertEqual(exp.batch, 4); XCTAssertEqual(exp.context, 256)   // the report's batch: its first 4 windows
        var o = testReportOptions(cache: nil, bootstrap: 100)
        o.hessianSamples = 10; o.hessianTop = 1; o.hessianDensity = DensityOptions(vectors: 2, steps: 20)
        let (r, extras) = try compareRuns(manifest(["baseline"], maxTokens: 2048), options: o)
        let h = try XCTUnwrap(r.hessian?.first)
        XCTAssertEqual(r.hessian?.count, 1)
        XCTAssertEqual(r.run("baseline")?.hessianTrace, h.trace)
        XCTAssertEqual(r.settings.hessianTop, 1); XCTAssertEqual(r.settings.hessianDensityVectors, 2)

        let combined = (h.stderr * h.stderr + exp.stderr * exp.stderr).squareRoot()
        XCTAssertEqual(h.trace, exp.trace, accuracy: 3 * combined)
        XCTAssertEqual(h.byRole.values.reduce(0) { $0 + $1.trace }, h.trace, accuracy: 1e-9 * abs(h.trace))
        var want: [String: Double] = [:]
        for (name, v) in exp.per_tensor_trace { want[try XCTUnwrap(Self.role(name), name), default: 0] += v }
        XCTAssertEqual(Set(want.keys), Set(h.byRole.keys))
        let limit = studentThreeSigma(samples: h.samples)
        for (role, w) in want {
            let got = try XCTUnwrap(h.byRole[role])
            let se = got.stderr * (1 + Double(h.samples) / Double(exp.samples)).squareRoot()
            let z = abs(got.trace - w) / max(se, 1e-6 * abs(exp.trace))
            print("role \(role): \(got.trace) ± \(got.stderr) vs PyTorch \(w): \(z) s.e.")
            XCTAssertLessThan(z, limit, role)
        }

        // λ₁: PyTorch stopped at a relative change of 1e-3 with ρ = (λ₂/λ₁)² per step.
        let rho = pow(exp.top_eigenvalues[1] / exp.top_eigenvalues[0], 2)
        let tolerance = 1e-3 * exp.top_eigenvalues[0] * rho / (1 - rho) + h.eigenResiduals[0]
        XCTAssertEqual(h.topEigenvalues[0], exp.top_eigenvalues[0], accuracy: tolerance)

        let d = try XCTUnwrap(h.density)
        XCTAssertEqual(d.runs.count, 2); XCTAssertEqual(d.steps, 20)
        for run in d.runs {
            XCTAssertEqual(run.weights.reduce(0, +), 1, accuracy: 1e-6, "Gauss quadrature weights are a probability measure")
            XCTAssertLessThanOrEqual(run.nodes.max()!, h.topEigenvalues[0] + h.eigenResiduals[0] + 1e-3 * h.topEigenvalues[0],
                                     "Ritz values lie inside the spectrum")
        }

        let dir = NSTemporaryDirectory() + "gpt2lab-why-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeReport(r, extras: extras, to: dir, template: try loadReportTemplate().text)
        let html = try String(contentsOfFile: dir + "/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("Curvature: the loss Hessian"))
        for file in [WhyChartFile.hessianLayers, WhyChartFile.hessianDensity] {
            XCTAssertTrue(html.contains("src=\"\(file)\""), file)
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + file), file)
        }
        // The densities: one panel per run (overlaid, one run's spikes hid another's), all on one x and y scale.
        let panels = try XCTUnwrap(hessianDensityPanels(try XCTUnwrap(r.hessian))).panels
        XCTAssertEqual(panels.map(\.title), try XCTUnwrap(r.hessian).filter { $0.density != nil }.map(\.run))
        XCTAssertEqual(panels.map { $0.series.map(\.name) }, panels.map { [$0.title] })
        let xs = panels.flatMap { $0.series[0].points.map(\.x) }
        for p in panels { XCTAssertEqual(p.xExtent, [xs.min()!, xs.max()!]); XCTAssertEqual(p.yScale, .log) }
        struct Saved: Decodable { let hessian: [RunHessian] }
        let saved = try JSONDecoder().decode(Saved.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/results.json")))
        XCTAssertEqual(saved.hessian, r.hessian)
    }

    /// `--hessian-steps`: each step checkpoint gets the Hessian the run gets (the estimator checked against
    /// PyTorch above), on that checkpoint — its batch loss is HF's loss of those windows at that step
    /// (tests/reference/step_losses.py; the fixtures' step files carry the final model's Hessian, so their
    /// traces are no reference) — and the chart has the steps then the run; without loss_across_steps it stops.
    func testHessianAcrossStepCheckpoints() throws {
        guard FileManager.default.fileExists(atPath: Self.fixtures) else { throw missingFixtures("shared/fixtures not found at \(Self.fixtures)") }
        struct Steps: Decodable {
            struct Checkpoint: Decodable { let file: String; let window_nll_sums: [Double] }
            let checkpoints: [Checkpoint]
        }
        let hf = try JSONDecoder().decode(Steps.self, from: Data(contentsOf: Self.tests.appendingPathComponent("AnalysisTests/Fixtures/step-losses.json")))
        var m = manifest(["baseline"], maxTokens: 2048)
        m.runs[0].hyper.steps = 2286
        var o = testReportOptions(cache: nil, bootstrap: 100)
        o.hessianSamples = 4; o.hessianTop = 1; o.hessianSteps = true
        XCTAssertThrowsError(try compareRuns(m, options: o)) { e in
            XCTAssertTrue((e as? LocalizedError)?.errorDescription?.contains("--hessian-steps needs loss_across_steps = true") ?? false, "\(e)")
        }
        m.lossAcrossSteps = true
        let (r, _) = try compareRuns(m, options: o)
        let h = try XCTUnwrap(r.hessian?.first)
        XCTAssertEqual(h.step, 2286); XCTAssertEqual(r.settings.hessianSteps, true)
        let steps = try XCTUnwrap(h.steps)
        XCTAssertEqual(steps.map(\.step), [571, 1143])
        for st in steps {
            let file = "step-\(String(format: "%06d", st.step)).safetensors"
            let nll = try XCTUnwrap(hf.checkpoints.first { $0.file == file }).window_nll_sums
            let want = nll.prefix(4).reduce(0, +) / Double(4 * 256)
            XCTAssertEqual(st.hessian.batchLoss, want, accuracy: 1e-4, "\(file): the Hessian's batch is scored on that checkpoint")
            XCTAssertEqual(st.hessian.run, "baseline step \(st.step)")
            XCTAssertEqual(st.hessian.samples, 4); XCTAssertEqual(st.hessian.topEigenvalues.count, 1)
            XCTAssertEqual(st.hessian.byRole.values.reduce(0) { $0 + $1.trace }, st.hessian.trace, accuracy: 1e-9 * abs(st.hessian.trace))
            XCTAssertNotEqual(st.hessian.batchLoss, h.batchLoss, "not the final model's")
            XCTAssertNil(st.hessian.steps)
        }
        let chart = try XCTUnwrap(hessianAcrossSteps(try XCTUnwrap(r.hessian)))
        XCTAssertEqual(chart.panels.map(\.title), ["Hessian trace", "Largest eigenvalue λ₁"])
        XCTAssertEqual(chart.panels[0].series.first?.points.map(\.x), [571, 1143, 2286])
        XCTAssertEqual(chart.panels[0].series.first?.points.map(\.y), steps.map(\.hessian.trace) + [h.trace])
        XCTAssertTrue(whyCharts(r).contains { $0.file == WhyChartFile.hessianSteps })
    }

    struct WeightWatcher: Decodable {
        struct Matrix: Decodable {
            let name: String; let alpha, xmin, lambda_max, stable_rank: Double
            let ww_default_skipped: Bool; let spikes_mp_edge: Int
        }
        struct Run: Decodable {
            struct Summary: Decodable { let mean_alpha, mean_alpha_weighted: Double }
            let checkpoint: String; let matrices: [Matrix]; let ww_summary: Summary
        }
        let runs: [Run]
    }

    /// Every matrix of the runs and of the baseline's step checkpoints against WeightWatcher (α, xmin,
    /// λ_max, stable rank by name; the means), and the α-across-steps chart's points its summary means.
    func testSpectraSectionMatchesWeightWatcher() throws {
        guard FileManager.default.fileExists(atPath: Self.fixtures) else { throw missingFixtures("shared/fixtures not found at \(Self.fixtures)") }
        let ww = try JSONDecoder().decode(WeightWatcher.self, from: Data(contentsOf: Self.tests.appendingPathComponent(
            "AnalysisTests/Fixtures/spectra-weightwatcher.json")))
        var m = manifest(["baseline", "reference"], maxTokens: 2048)
        m.spectra = true
        m.lossAcrossSteps = true
        m.runs[0].hyper.steps = 2286                               // as the manifest reads it from the run's meta.json
        let (r, _) = try compareRuns(m, options: testReportOptions(cache: nil, bootstrap: 100))
        let sp = try XCTUnwrap(r.spectra)
        XCTAssertEqual(sp.map(\.run), ["baseline", "reference"])
        XCTAssertEqual(sp[0].steps?.map(\.step), [571, 1143])
        XCTAssertEqual(sp[0].step, 2286)
        XCTAssertNil(sp[1].steps)                                  // no step files beside the reference
        let checked: [(String, CheckpointSpectra)] = [("runs/baseline/model.safetensors", sp[0].spectra),
                                                      ("runs/reference/model.safetensors", sp[1].spectra)]
            + sp[0].steps!.map { ("runs/baseline/step-\(String(format: "%06d", $0.step)).safetensors", $0.spectra) }
        var worst = 0.0
        for (file, got) in checked {
            let want = try XCTUnwrap(ww.runs.first { $0.checkpoint == file }, file)
            XCTAssertTrue(got.checkpoint.hasSuffix(file), got.checkpoint)
            XCTAssertEqual(got.matrices.count, want.matrices.count, file)
            // Names differ in layout (WeightWatcher saw Raschka's); λ_max is unique per matrix here, so pair by it.
            for w in want.matrices {
                let g = try XCTUnwrap(got.matrices.min { abs($0.lambdaMax - w.lambda_max) < abs($1.lambdaMax - w.lambda_max) })
                XCTAssertLessThan(abs(g.lambdaMax - w.lambda_max) / w.lambda_max, 1e-10, "\(file) \(w.name)")
                let fit = try XCTUnwrap(g.fit, "\(file) \(w.name)")
                for (a, b) in [(fit.alpha, w.alpha), (fit.xmin, w.xmin), (g.stableRank, w.stable_rank)] {
                    worst = max(worst, abs(a - b) / abs(b))
                    XCTAssertLessThan(abs(a - b) / abs(b), 1e-10, "\(file) \(w.name): \(a) vs WeightWatcher \(b)")
                }
            }
            XCTAssertEqual(try XCTUnwrap(got.meanAlpha), want.ww_summary.mean_alpha, accuracy: 1e-10 * want.ww_summary.mean_alpha)
            XCTAssertEqual(try XCTUnwrap(got.meanAlphaHat), want.ww_summary.mean_alpha_weighted,
                           accuracy: 1e-10 * want.ww_summary.mean_alpha_weighted)
        }
        print("report spectra vs WeightWatcher: worst relative difference \(worst) over \(checked.count) checkpoints")

        let charts = whyCharts(r)
        XCTAssertEqual(charts.map(\.file), [WhyChartFile.spectraLayers, WhyChartFile.spectraSteps])
        guard case let .smallMultiples(steps)? = charts.last?.chart else { return XCTFail("small multiples") }
        let overall = try XCTUnwrap(steps.panels.first?.series.first)
        XCTAssertEqual(overall.name, "baseline")
        XCTAssertEqual(overall.points.map(\.x), [571, 1143, 2286])
        let means = ["runs/baseline/step-000571.safetensors", "runs/baseline/step-001143.safetensors", "runs/baseline/model.safetensors"]
            .map { f in ww.runs.first { $0.checkpoint == f }!.ww_summary.mean_alpha }
        for (p, w) in zip(overall.points, means) { XCTAssertEqual(p.y, w, accuracy: 1e-10 * w) }
        XCTAssertEqual(steps.panels.count, 1 + SpectralRole.perBlock.count - 1)   // q, k, v: no fused qkv panel
        let context = try XCTUnwrap(spectraTemplateContext(r, charts: charts))
        let rows = try XCTUnwrap(context["rows"] as? [[String: String]])
        XCTAssertEqual(rows.map { $0["steps"] }, ["571, 1143", "—"])
        // The table's stable rank and spikes are over the matrices WeightWatcher analyses, as its means are (they
        // counted the skipped token embedding too), worked from WeightWatcher's own per-matrix values.
        for (row, file) in zip(rows, ["runs/baseline/model.safetensors", "runs/reference/model.safetensors"]) {
            let kept = try XCTUnwrap(ww.runs.first { $0.checkpoint == file }).matrices.filter { !$0.ww_default_skipped }
            XCTAssertEqual(row["stable_rank"], String(format: "%.1f", kept.map(\.stable_rank).reduce(0, +) / Double(kept.count)), file)
            XCTAssertEqual(row["spikes"], String(kept.map(\.spikes_mp_edge).reduce(0, +)), file)
        }
    }
}
