// Chart data model: plain values, no drawing. `render(_:to:)` in Render.swift draws any of these
// with Cairo as PNG or SVG from one drawing routine.
//
// Non-finite numbers (NaN, ±∞) are skipped wherever they appear: a NaN point breaks a line,
// a NaN bar is not drawn, a NaN error bar is left out.

/// One line (or one set of bars) in a chart.
public struct ChartSeries: Sendable {
    public var name: String
    /// (x, y) points in drawing order; a line joins consecutive finite points.
    public var points: [(x: Double, y: Double)]
    /// Optional error bar per point: the interval's ends as absolute y values (not offsets).
    /// Same count as `points` when present.
    public var errors: [(lo: Double, hi: Double)]?
    /// Drawn as a dashed line without markers (a reference curve, e.g. a straight line between two points).
    public var dashed = false

    public init(name: String, points: [(x: Double, y: Double)], errors: [(lo: Double, hi: Double)]? = nil) {
        self.name = name; self.points = points; self.errors = errors
    }
    /// Convenience for y values at x = 0, 1, 2, …
    public init(name: String, values: [Double], errors: [(lo: Double, hi: Double)]? = nil) {
        self.init(name: name, points: values.enumerated().map { (x: Double($0.offset), y: $0.element) }, errors: errors)
    }
}

/// A labelled constant line across the plot, e.g. "reference 5.04".
public struct ReferenceLine: Sendable {
    public var value: Double
    public var label: String
    public init(value: Double, label: String) { self.value = value; self.label = label }
}

/// A labelled dashed vertical line at x = `value`, in the colour of the series named `series`
/// (ink when nil), e.g. a run's AdamW timescale τ on a chart against training step.
public struct VerticalLine: Sendable {
    public var value: Double
    public var label: String
    public var series: String?
    public init(value: Double, label: String, series: String? = nil) { self.value = value; self.label = label; self.series = series }
}

/// A labelled shaded interval across the plot, e.g. the seed-noise band.
public struct Band: Sendable {
    public var lo: Double
    public var hi: Double
    public var label: String
    public init(lo: Double, hi: Double, label: String) { self.lo = lo; self.hi = hi; self.label = label }
}

/// How a value axis maps numbers to positions.
public enum AxisScale: Sendable {
    case linear
    /// Base-10 logarithmic; non-positive values are skipped.
    case log
}

/// Series of (x, y) points joined by lines, with markers.
public struct LineChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [ChartSeries]
    public var referenceLine: ReferenceLine?
    public var band: Band?
    public var yScale: AxisScale = .linear
    /// Draw markers at the points (on by default).
    public var markers = true
    /// Force the y axis to include 0 (norms, counts).
    public var includeZero = false
    /// Dashed vertical markers; the x axis stretches to include them.
    public var verticalLines: [VerticalLine] = []
    /// Values each axis stretches to include, unmarked: one scale for every panel of a small multiple.
    public var xExtent: [Double] = []
    public var yExtent: [Double] = []

    public init(title: String, xLabel: String, yLabel: String, series: [ChartSeries],
                referenceLine: ReferenceLine? = nil, band: Band? = nil, yScale: AxisScale = .linear) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
        self.referenceLine = referenceLine; self.band = band; self.yScale = yScale
    }
}

/// A grid of line charts with one legend for all of them; a series keeps its colour across
/// panels (matched by name).
public struct SmallMultiples: Sendable {
    public var title: String
    public var panels: [LineChart]
    /// Panels per row; nil picks about √n.
    public var columns: Int?
    public init(title: String, panels: [LineChart], columns: Int? = nil) {
        self.title = title; self.panels = panels; self.columns = columns
    }
}

/// Grouped bars: one group per category, one bar per series in each group.
public struct BarChart: Sendable {
    public var title: String
    public var yLabel: String
    public var categories: [String]
    /// One entry per series: its name, one value per category, optional (lo, hi) per value.
    public var series: [BarSeries]
    public var referenceLine: ReferenceLine?
    public var band: Band?
    /// Print each bar's value above it.
    public var valueLabels = false

    public init(title: String, yLabel: String, categories: [String], series: [BarSeries],
                referenceLine: ReferenceLine? = nil, band: Band? = nil) {
        self.title = title; self.yLabel = yLabel; self.categories = categories; self.series = series
        self.referenceLine = referenceLine; self.band = band
    }
}

/// One series of a bar or dot chart: one value per category.
public struct BarSeries: Sendable {
    public var name: String
    public var values: [Double]
    /// Interval ends (absolute values, e.g. a 95% CI) per value.
    public var errors: [(lo: Double, hi: Double)]?
    public init(name: String, values: [Double], errors: [(lo: Double, hi: Double)]? = nil) {
        self.name = name; self.values = values; self.errors = errors
    }
}

/// Horizontal "dot + interval" chart: one row per category, the value as a dot with its CI as a
/// bar, a vertical zero line and an optional noise band — for Δ against a baseline.
public struct DotChart: Sendable {
    public var title: String
    public var xLabel: String
    public var categories: [String]
    public var series: [BarSeries]
    /// Draw a vertical line at x = 0.
    public var zeroLine = true
    public var band: Band?
    public var referenceLine: ReferenceLine?

    public init(title: String, xLabel: String, categories: [String], series: [BarSeries],
                band: Band? = nil, referenceLine: ReferenceLine? = nil) {
        self.title = title; self.xLabel = xLabel; self.categories = categories; self.series = series
        self.band = band; self.referenceLine = referenceLine
    }
}

/// Output file format.
public enum ChartFormat: String, Sendable, CaseIterable {
    case png, svg
    /// From a path's extension (".png", ".svg"), or nil.
    public init?(path: String) {
        guard let ext = path.split(separator: ".").last, path.contains(".") else { return nil }
        self.init(rawValue: ext.lowercased())
    }
}

/// Anything `render` can draw.
public enum Chart: Sendable {
    case line(LineChart)
    case smallMultiples(SmallMultiples)
    case bar(BarChart)
    case dot(DotChart)
}

/// Errors writing a chart.
public enum ChartError: Error, Equatable {
    case badSize(width: Int, height: Int, scale: Double)
    case unknownFormat(path: String)
    case cairo(path: String, status: String)
}
