import CCairo
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import Analysis
import Engine
@testable import Report

/// Charts: files decode to the requested size, aren't blank, SVG parses, odd data doesn't crash,
/// writes are atomic. Set GPT2LAB_CHART_DIR to keep the example charts for a look.
final class ChartsTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "gpt2lab-charts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Width, height, distinct colours and share of non-white pixels of a PNG, via Cairo's decoder.
    func decodePNG(_ path: String) throws -> (w: Int, h: Int, colors: Int, inked: Double) {
        let surface = try XCTUnwrap(cairo_image_surface_create_from_png(path))
        defer { cairo_surface_destroy(surface) }
        XCTAssertEqual(cairo_surface_status(surface), CAIRO_STATUS_SUCCESS, path)
        cairo_surface_flush(surface)
        let w = Int(cairo_image_surface_get_width(surface)), h = Int(cairo_image_surface_get_height(surface))
        let stride = Int(cairo_image_surface_get_stride(surface))
        let data = try XCTUnwrap(cairo_image_surface_get_data(surface))
        var colors = Set<UInt32>(), inked = 0
        for y in 0..<h {
            let row = UnsafeRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self)
            for x in 0..<w {
                colors.insert(row[x])
                if row[x] & 0x00FF_FFFF != 0x00FF_FFFF { inked += 1 }
            }
        }
        return (w, h, colors.count, Double(inked) / Double(max(1, w * h)))
    }

    /// Root element's width/height attributes of an SVG (units stripped) after a full XML parse.
    func parseSVG(_ path: String) throws -> (width: Double, height: Double) {
        final class Root: NSObject, XMLParserDelegate {
            var attributes: [String: String]?
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                        qualifiedName: String?, attributes: [String: String]) {
                if self.attributes == nil { XCTAssertEqual(name, "svg"); self.attributes = attributes }
            }
        }
        let parser = try XCTUnwrap(XMLParser(contentsOf: URL(fileURLWithPath: path)))
        let root = Root()
        parser.delegate = root
        XCTAssertTrue(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
        let a = try XCTUnwrap(root.attributes)
        func number(_ s: String?) -> Double { Double((s ?? "").filter { $0.isNumber || $0 == "." }) ?? -1 }
        return (number(a["width"]), number(a["height"]))
    }

    func lineExample() -> LineChart {
        let steps = [0.0, 571, 1143, 1714, 2286]
        var c = LineChart(title: "Test loss on Persuasion", xLabel: "training step", yLabel: "loss (nats/token)", series: [
            ChartSeries(name: "baseline", points: zip(steps, [10.9, 6.1, 5.62, 5.41, 5.33]).map { (x: $0, y: $1) },
                        errors: [(10.85, 10.95), (6.05, 6.15), (5.58, 5.66), (5.38, 5.45), (5.30, 5.36)]),
            ChartSeries(name: "wd-0.01", points: zip(steps, [10.9, 6.0, 5.55, 5.37, 5.28]).map { (x: $0, y: $1) }),
            ChartSeries(name: "stacked", points: zip(steps, [10.9, 5.7, 5.3, 5.12, 5.07]).map { (x: $0, y: $1) }),
        ])
        c.referenceLine = ReferenceLine(value: 5.04, label: "reference 5.04")
        c.band = Band(lo: 5.30, hi: 5.36, label: "seed noise")
        return c
    }

    func barExample() -> BarChart {
        var b = BarChart(title: "Δ test loss by intervention", yLabel: "loss (nats/token)",
                         categories: ["baseline", "baseline-seed67", "weight decay 0.01", "stacked recipe (no dropout, cosine lr, clipping)", "reference"],
                         series: [BarSeries(name: "stride 256", values: [5.33, 5.35, 5.28, 5.07, 4.6],
                                            errors: [(5.30, 5.36), (5.32, 5.38), (5.25, 5.31), (5.04, 5.10), (4.57, 4.63)]),
                                  BarSeries(name: "stride 128", values: [5.25, 5.27, 5.2, 5.0, 4.52])])
        b.referenceLine = ReferenceLine(value: 5.04, label: "reference 5.04")
        b.band = Band(lo: 5.30, hi: 5.36, label: "seed noise")
        return b
    }

    func dotExample() -> DotChart {
        DotChart(title: "Change in test loss vs baseline (95% CI)", xLabel: "Δ loss (nats/token)",
                 categories: ["baseline-seed67", "wd-0.01", "stacked", "reference"],
                 series: [BarSeries(name: "Δ", values: [0.02, -0.05, -0.26, -0.73],
                                    errors: [(-0.01, 0.05), (-0.08, -0.02), (-0.3, -0.22), (-0.78, -0.68)])],
                 band: Band(lo: -0.03, hi: 0.03, label: "seed noise"))
    }

    func multiplesExample() -> SmallMultiples {
        let roles = ["attention QKV", "attention output", "MLP in", "MLP out", "LayerNorm gain", "LayerNorm bias"]
        let ckpts = ["step-000571", "step-001143", "final"]
        let panels = roles.enumerated().map { ri, role in
            LineChart(title: role, xLabel: "layer", yLabel: "L2 norm", series: ckpts.enumerated().map { ci, name in
                ChartSeries(name: name, values: (0..<6).map { l in 10 + Double(ri) * 3 + Double(ci) * 2.5 + sin(Double(l + ri)) * 2 })
            })
        }
        return SmallMultiples(title: "Per-layer weight norms", panels: panels)
    }

    /// Pixels (ARGB) of a PNG, row by row.
    func pixels(_ path: String) throws -> (w: Int, h: Int, px: [UInt32]) {
        let surface = try XCTUnwrap(cairo_image_surface_create_from_png(path))
        defer { cairo_surface_destroy(surface) }
        cairo_surface_flush(surface)
        let w = Int(cairo_image_surface_get_width(surface)), h = Int(cairo_image_surface_get_height(surface))
        let stride = Int(cairo_image_surface_get_stride(surface)), data = try XCTUnwrap(cairo_image_surface_get_data(surface))
        var px: [UInt32] = []
        for y in 0..<h { let row = UnsafeRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self); for x in 0..<w { px.append(row[x]) } }
        return (w, h, px)
    }

    /// A τ marker (LineChart.verticalLines) is a dashed vertical line down the plot: against the same
    /// chart without it, the changed pixels of the unlabelled marker fill one narrow column for much of the height.
    func testVerticalLineIsDrawnDown() throws {
        var plain = lineExample()
        plain.referenceLine = nil; plain.band = nil
        plain.verticalLines = [VerticalLine(value: 3000, label: "", series: "stacked")]   // stretches x to 3000 in both
        var marked = plain
        marked.verticalLines = [VerticalLine(value: 1500, label: "", series: "stacked"), VerticalLine(value: 3000, label: "", series: "stacked")]
        let a = dir + "/plain.png", b = dir + "/marked.png"
        try render(.line(plain), to: a, width: 600, height: 400, scale: 1)
        try render(.line(marked), to: b, width: 600, height: 400, scale: 1)
        let (w, h, pa) = try pixels(a), (_, _, pb) = try pixels(b)
        var columns: [Int: Int] = [:]
        for i in pa.indices where pa[i] != pb[i] { columns[i % w, default: 0] += 1 }
        XCTAssertFalse(columns.isEmpty, "the marker changed nothing")
        let xs = columns.keys.sorted()
        XCTAssertLessThanOrEqual(xs.last! - xs.first!, 6, "one narrow column: \(xs)")
        XCTAssertGreaterThan(columns.values.reduce(0, +), h / 4, "dashed, down most of the plot")
    }

    func testPNGHasRequestedSizeAndIsNotBlank() throws {
        let out = outDir
        let charts: [(String, Chart)] = [("line", .line(lineExample())), ("bar", .bar(barExample())),
                                         ("dot", .dot(dotExample())), ("multiples", .smallMultiples(multiplesExample()))]
        for (name, chart) in charts {
            for scale in [1.0, 2.0] {
                let path = "\(out)/\(name)@\(Int(scale))x.png"
                try render(chart, to: path, width: 900, height: 540, scale: scale)
                let img = try decodePNG(path)
                XCTAssertEqual(img.w, Int(900 * scale), name)
                XCTAssertEqual(img.h, Int(540 * scale), name)
                XCTAssertGreaterThan(img.colors, 50, "\(name): too few colours, blank?")
                XCTAssertGreaterThan(img.inked, 0.01, "\(name): almost all white")
                XCTAssertLessThan(img.inked, 0.6, "\(name): background not white")
            }
            try render(chart, to: "\(out)/\(name).svg")
        }
    }

    func testSVGIsWellFormedWithRequestedSize() throws {
        for (w, h) in [(900, 540), (640, 400)] {
            let path = "\(dir)/line-\(w).svg"
            try render(lineExample(), to: path, width: w, height: h)
            let size = try parseSVG(path)
            XCTAssertEqual(size.width, Double(w))
            XCTAssertEqual(size.height, Double(h))
        }
        try render(barExample(), to: "\(dir)/b.svg")
        _ = try parseSVG("\(dir)/b.svg")
        // Explicit format wins over the extension.
        try render(dotExample(), to: "\(dir)/dot.out", format: .svg)
        _ = try parseSVG("\(dir)/dot.out")
    }

    /// Where example charts go: GPT2LAB_CHART_DIR when set (to look at them), else the temp folder.
    var outDir: String { ProcessInfo.processInfo.environment["GPT2LAB_CHART_DIR"] ?? dir }

    func testDegenerateInputsDontCrash() throws {
        let nan = Double.nan
        var cases: [Chart] = [
            .line(LineChart(title: "", xLabel: "", yLabel: "", series: [])),
            .line(LineChart(title: "one point", xLabel: "x", yLabel: "y", series: [ChartSeries(name: "a", points: [(x: 3, y: 7)])])),
            .line(LineChart(title: "all equal", xLabel: "x", yLabel: "y", series: [ChartSeries(name: "a", values: [2, 2, 2, 2])])),
            .line(LineChart(title: "zeros", xLabel: "x", yLabel: "y", series: [ChartSeries(name: "a", values: [0, 0])])),
            .line(LineChart(title: "NaN and ∞", xLabel: "x", yLabel: "y", series: [
                ChartSeries(name: "a", points: [(x: 0, y: 1), (x: 1, y: nan), (x: nan, y: 3), (x: 3, y: .infinity), (x: 4, y: 2)],
                            errors: [(nan, nan), (0, 1), (1, 2), (2, 3), (1.5, nan)]),
                ChartSeries(name: "all NaN", values: [nan, nan])])),
            .line(LineChart(title: "log with ≤ 0", xLabel: "x", yLabel: "y",
                            series: [ChartSeries(name: "a", values: [0, -1, 1e-3, 1e4])], yScale: .log)),
            .line(LineChart(title: "log, nothing positive", xLabel: "x", yLabel: "y",
                            series: [ChartSeries(name: "a", values: [0, -1])], yScale: .log)),
            .line(LineChart(title: "huge and tiny", xLabel: "x", yLabel: "y",
                            series: [ChartSeries(name: "a", points: [(x: 1e9, y: 1e-9), (x: 2e9, y: 3e-9)])])),
            .bar(BarChart(title: "no categories", yLabel: "y", categories: [], series: [])),
            .bar(BarChart(title: "ragged", yLabel: "y", categories: ["a", "b", "c"],
                          series: [BarSeries(name: "s", values: [1, nan, -2, 4, 5], errors: [(0, 2)])])),
            .dot(DotChart(title: "", xLabel: "", categories: [], series: [])),
            .dot(DotChart(title: "one", xLabel: "Δ", categories: ["only"], series: [BarSeries(name: "a", values: [nan])])),
            .smallMultiples(SmallMultiples(title: "none", panels: [])),
        ]
        var manyBars = barExample()
        manyBars.categories = (0..<40).map { "checkpoint-number-\($0)-with-a-long-name" }
        manyBars.series = [BarSeries(name: "v", values: (0..<40).map(Double.init))]
        manyBars.valueLabels = true
        cases.append(.bar(manyBars))
        for (i, chart) in cases.enumerated() {
            for (w, h) in [(900, 540), (120, 80)] {   // tiny canvases too
                try render(chart, to: "\(outDir)/degenerate-\(i)-\(w).png", width: w, height: h)
                try render(chart, to: "\(outDir)/degenerate-\(i)-\(w).svg", width: w, height: h)
            }
        }
        XCTAssertThrowsError(try render(lineExample(), to: "\(dir)/x.png", width: 0))
        XCTAssertThrowsError(try render(lineExample(), to: "\(dir)/x.png", scale: .nan))
        XCTAssertThrowsError(try render(lineExample(), to: "\(dir)/x.jpeg"))
    }

    func testAtomicWriteLeavesNoTempFile() throws {
        let path = "\(dir)/chart.png"
        try render(lineExample(), to: path)
        try render(lineExample(), to: path, scale: 2)          // overwrite in place
        try render(lineExample(), to: "\(dir)/chart.svg")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["chart.png", "chart.svg"])
        XCTAssertEqual(try decodePNG(path).w, 1800)
        // A folder that doesn't exist: an error, and nothing left anywhere.
        XCTAssertThrowsError(try render(lineExample(), to: "\(dir)/missing/chart.png")) { err in
            XCTAssertTrue((err as? LocalizedError)?.errorDescription?.contains("missing/chart.png") ?? false, "\(err)")
        }
        XCTAssertThrowsError(try render(lineExample(), to: "\(dir)/missing/chart.svg"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["chart.png", "chart.svg"])
    }

    func testNiceTicks() {
        let a = linearAxis([0, 1], target: 5)
        XCTAssertEqual(a.step, 0.2, accuracy: 1e-12)
        XCTAssertEqual(linearAxis([0, 7.3], target: 6).step, 1)
        XCTAssertEqual(linearAxis([3, 1234], target: 6).step, 200)
        XCTAssertEqual(linearAxis([0.0012, 0.0049], target: 5).step, 0.001, accuracy: 1e-15)   // span 0.0037 + 10% pad
        for axis in [linearAxis([-3.3, 17.9]), linearAxis([5.04, 5.36]), linearAxis([1e6, 3e7])] {
            for t in axis.ticks {   // every tick is k × step with step ∈ {1, 2, 5} × 10ⁿ
                XCTAssertEqual((t / axis.step).rounded(), t / axis.step, accuracy: 1e-6)
                XCTAssertTrue(t >= axis.lo - 1e-9 && t <= axis.hi + 1e-9)
            }
            let m = axis.step / pow(10, floor(log10(axis.step)))
            XCTAssertTrue([1, 2, 5].contains { abs($0 - m) < 1e-9 }, "step \(axis.step)")
        }
        XCTAssertEqual(linearAxis([0, 3], target: 8, integer: true).step, 1)
        XCTAssertEqual(linearAxis([4, 4]).ticks.isEmpty, false)
        XCTAssertEqual(logAxis([0.01, 50]).ticks.first, 0.01)
        XCTAssertEqual(tickLabel(0.5, step: 0.1), "0.5")
        XCTAssertEqual(tickLabel(-2, step: 1), "−2")
        XCTAssertEqual(tickLabel(1500, step: 500), "1500")
        XCTAssertEqual(tickLabel(500_000, step: 500_000), "0.5M")
        XCTAssertEqual(tickLabel(3_000_000, step: 500_000), "3.0M")
        // Bar value labels: a Hessian trace of 2516 reads as such, not "2.52e+03".
        XCTAssertEqual(compactNumber(2516.4), "2516")
        XCTAssertEqual(compactNumber(999.6), "1000")
        XCTAssertEqual(compactNumber(316.2), "316")
        XCTAssertEqual(compactNumber(25_160), "25.2k")
        XCTAssertEqual(compactNumber(999_600), "1M")
        XCTAssertEqual(compactNumber(-0.0042), "-0.0042")
    }

    /// End to end: norm stats of small synthetic checkpoints (Analysis) drawn as the three norm charts.
    func testNormChartsFromWeights() throws {
        let config = GPT2Config(vocabSize: 64, contextLength: 16, nEmbd: 16, nLayer: 4, nHead: 2)
        var state: UInt64 = 1
        func noise() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(state >> 33) % 2001 - 1000) / 1000
        }
        let stats: [CheckpointNormStats] = [571, 1143, 2286].map { step in
            var w = GPT2Weights(config: config, tied: true)
            for id in w.layout.tensors where id.kind != .lmHead {
                let growth = 1 + Float(step) / 1000 * Float((id.layer ?? 0) + 1) * 0.1
                let base: Float = [.ln1w, .ln2w, .lnfw].contains(id.kind) ? 1 : 0
                w.set(id, (0..<w.layout.size(id)).map { _ in base + 0.02 * growth * noise() })
            }
            return checkpointNormStats(checkpoint: String(format: "runs/baseline/step-%06d.safetensors", step), weights: w)
        }
        let m = layerNormCharts(stats)
        XCTAssertEqual(m.panels.count, 7)
        try render(m, to: "\(outDir)/norms-by-layer.png", height: 640)
        try render(parameterNormBars(stats), to: "\(outDir)/norms-bars.png")
        let line = try XCTUnwrap(normsVersusStep(stats))
        try render(line, to: "\(outDir)/norms-vs-step.png")
        XCTAssertEqual(try decodePNG("\(outDir)/norms-vs-step.png").w, 900)
    }

    func testNormChartData() {
        func stats(_ name: String, _ scale: Double) -> CheckpointNormStats {
            CheckpointNormStats(checkpoint: name, tensors: [:], sourceTensors: [:], totalSumSq: 100 * scale,
                                decaySumSq: 90 * scale, noDecaySumSq: 10 * scale,
                                byRole: ["mlp_in": ["0": 1 * scale, "1": 2 * scale, "final": 9], "ln_gain": ["final": 3]],
                                byLayer: [:])
        }
        let s = [stats("runs/baseline/step-001143.safetensors", 2), stats("runs/baseline/step-000571.safetensors", 1),
                 stats("runs/wd/model.safetensors", 3)]
        let m = layerNormCharts(s)
        XCTAssertEqual(m.panels.map(\.title), ["MLP in"])          // ln_gain has no per-layer entries
        XCTAssertEqual(m.panels[0].series.count, 3)
        XCTAssertEqual(m.panels[0].series[0].points.map(\.y), [2, 4])
        let bars = parameterNormBars(s)
        XCTAssertEqual(bars.series.map(\.values), [[200, 100, 300], [180, 90, 270]])
        let line = normsVersusStep(s)
        XCTAssertEqual(line?.series[0].points.map(\.x), [571, 1143])   // sorted; unstepped left out
        XCTAssertEqual(line?.series[0].points.first?.y ?? 0, 10, accuracy: 1e-12)
        XCTAssertEqual(normsVersusStep(s, steps: [nil, nil, 5])?.series[0].points.map(\.x), [5, 571, 1143])
        XCTAssertNil(normsVersusStep([stats("x", 1)]))
        // Run names are labels as they are: "wd-0.01" and "wd-0.02" read as file names both became "wd-0", and the
        // report's chart drew two lines under one name.
        let runs = layerNormCharts([stats("wd-0.01", 1), stats("wd-0.02", 2)]) { $0.checkpoint }
        XCTAssertEqual(runs.panels[0].series.map(\.name), ["wd-0.01", "wd-0.02"])
        XCTAssertEqual(checkpointDisplayName("runs/baseline/step-000571.safetensors"), "baseline/step-000571")
        XCTAssertEqual(checkpointDisplayName("model.safetensors"), "model")
        XCTAssertEqual(checkpointDisplayName("runs/baseline/model.safetensors"), "baseline")
        XCTAssertEqual(checkpointDisplayName("baseline"), "baseline")
    }
}
