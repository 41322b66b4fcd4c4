@testable import Analysis
import Foundation
import XCTest
@testable import Report

/// What the page says a number means must follow from the number: the interpolation caption reads the barrier
/// and its interval (it said "different basins" under every chart, also for a 0.0009-nat barrier), and the
/// chart's y axis spans at least `minimumLossSpan` so a flat path does not look like a hump.
final class ReadingTests: XCTestCase {
    func testBarrierSentenceFollowsTheInterval() {
        let none = barrierSentence(InterpolationBarrier(t: 0.5, excess: 0.0009, ci: [-0.0002, 0.0021]))
        XCTAssertTrue(none.hasPrefix("Barrier +0.0009 nats [-0.0002, +0.0021] at t = 0.5"), none)
        XCTAssertTrue(none.contains("includes 0"), none)
        let small = barrierSentence(InterpolationBarrier(t: 0.4, excess: 0.005, ci: [0.001, 0.009]))
        XCTAssertTrue(small.contains("under 0.01 nats"), small)
        let ridge = barrierSentence(InterpolationBarrier(t: 0.5, excess: 1.52, ci: [1.46, 1.58]))
        XCTAssertTrue(ridge.contains("ridge") && ridge.contains("different basins"), ridge)
        for s in [none, small] { XCTAssertFalse(s.contains("different basins"), s) }
    }

    func testFlatPathKeepsAVisibleScale() throws {
        func chart(_ losses: [Double]) throws -> LineChart {
            let n = losses.count
            let points = losses.enumerated().map { k, l in
                "{\"t\": \(Double(k) / Double(n - 1)), \"loss\": \(l), \"loss_ci\": [], \"excess_over_line\": 0, \"excess_ci\": []}"
            }
            let json = """
                {"a": "a", "b": "b", "test_set": "t", "settings": {"context": 8, "stride": 8, "skip": 0}, "windows": 1,
                 "tokens_scored": 8, "loss_a": \(losses.first!), "loss_b": \(losses.last!), "points": [\(points.joined(separator: ","))],
                 "bootstrap_resamples": 0, "bootstrap_seed": 0, "seconds": 0}
                """
            return interpolationChart(try JSONDecoder().decode(InterpolationResult.self, from: Data(json.utf8)))
        }
        // A 0.001-nat bump: the axis spans 0.05 nats around it.
        let flat = try chart([6.100, 6.1009, 6.101])
        XCTAssertEqual(flat.yExtent.count, 2)
        XCTAssertEqual(flat.yExtent[1] - flat.yExtent[0], minimumLossSpan, accuracy: 1e-12)
        XCTAssertEqual((flat.yExtent[0] + flat.yExtent[1]) / 2, 6.1005, accuracy: 1e-12)
        // A 1.5-nat barrier needs no stretching.
        XCTAssertEqual(try chart([6.1, 7.6, 6.14]).yExtent, [])
    }

    /// Lines without markers take a dash each, so two runs' coinciding training curves both show (the baseline
    /// lay hidden under wd-0.01), and the legend draws what the plot draws (it showed markers the lines lacked).
    func testMarkerlessLinesAreToldApartAndTheLegendMatches() {
        let series = (0..<4).map { ChartSeries(name: "r\($0)", values: [1, 2]) }
        var chart = LineChart(title: "t", xLabel: "x", yLabel: "y", series: series)
        chart.markers = false
        let dashes = series.indices.map { seriesDash(chart, series[$0], index: $0) }
        XCTAssertEqual(Set(dashes.map { $0.map(String.init(describing:)).joined(separator: ",") }).count, 4)
        for i in series.indices {
            guard case let .line(shape, dash) = lineSwatch(chart, series[i], index: i) else { return XCTFail("a line") }
            XCTAssertNil(shape); XCTAssertEqual(dash, dashes[i])
        }
        chart.markers = true
        XCTAssertEqual(seriesDash(chart, series[2], index: 2), [])
        guard case let .line(shape, _) = lineSwatch(chart, series[2], index: 2) else { return XCTFail("a line") }
        XCTAssertNotNil(shape)
    }

    /// A completion's trailing spaces show (HTML drops them, and "the" + 3 spaces read as cut off); inner spaces
    /// and newlines as before.
    func testCompletionShowsItsTrailingSpaces() {
        XCTAssertEqual(shownCompletion("and the   "), "and the␣␣␣")
        XCTAssertEqual(shownCompletion("a\nb "), "a↵b␣")
        XCTAssertEqual(shownCompletion(" x y"), " x y")
        XCTAssertEqual(shownCompletion(""), "")
    }

    /// The frequency row names the ranks its types hold: with 7,510 types the fourth bucket is ranks 1,001–7,510
    /// (the page said 1,001–10,000); results.json's label keeps the bucket's definition.
    func testFrequencyBucketNamesTheRanksItHolds() {
        func bucket(_ from: Int?, _ to: Int?, types: Int) -> FrequencyBucket {
            FrequencyBucket(label: "defined", rankFrom: from, rankTo: to, types: types, countMax: 1, countMin: 1, tokens: 1)
        }
        XCTAssertEqual(bucket(1_001, 10_000, types: 6_510).shownLabel, "ranks 1,001–7,510")
        XCTAssertEqual(bucket(1_001, 10_000, types: 1).shownLabel, "rank 1,001")
        XCTAssertEqual(bucket(1_001, 10_000, types: 9_000).shownLabel, "defined", "a full bucket keeps its label")
        XCTAssertEqual(bucket(10_001, nil, types: 5).shownLabel, "defined", "the open bucket")
        XCTAssertEqual(bucket(nil, nil, types: 5).shownLabel, "defined", "unseen")
    }
}
