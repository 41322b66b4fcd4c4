// Rendering entry point: one drawing routine per chart kind, two Cairo surfaces (PNG image,
// SVG document), and an atomic write (temp file in the target folder, then rename).

import CCairo
import Plumbing
import Foundation

extension ChartError: LocalizedError {
    public var errorDescription: String? {
        switch self {
        case let .badSize(w, h, s): return "chart size must be positive: width \(w), height \(h), scale \(s)"
        case let .unknownFormat(path): return "can't tell the chart format of '\(path)': use a .png or .svg name"
        case let .cairo(path, status): return "Cairo failed writing '\(path)': \(status)"
        }
    }
}

/// Draws `chart` into `path` as PNG or SVG (`format` nil: from the extension).
/// - Parameters:
///   - width, height: layout size in CSS pixels (the SVG's size; the PNG's at scale 1).
///   - scale: PNG pixel density; 2 gives the same layout at twice the pixels. Ignored for SVG.
/// The file appears complete or not at all: drawing goes to a temp file beside it, renamed at the end.
public func render(_ chart: Chart, to path: String, format: ChartFormat? = nil,
                   width: Int = 900, height: Int = 540, scale: Double = 1) throws {
    let out = try chartOutput(chart, to: path, format: format, width: width, height: height, scale: scale)
    try writeAtomically(to: path, mayReplace: out.mayReplace, out.produce)
}

/// Draws several charts (PNG or SVG by each file's extension) as one output: all are drawn first, then renamed
/// into place together (writeAtomicallyTogether), so an interrupted run never leaves one new chart beside an
/// old one. Each file may replace only a chart of ours.
public func renderTogether(_ charts: [(chart: Chart, path: String, width: Int, height: Int)], scale: Double) throws {
    try writeAtomicallyTogether(charts.map { try chartOutput($0.chart, to: $0.path, width: $0.width, height: $0.height, scale: scale) })
}

/// One chart as an atomic output, its size and format checked: drawn at the temporary name, and replacing only a
/// chart of ours (what stands at `path` when the chart is done may have appeared since the start).
private func chartOutput(_ chart: Chart, to path: String, format: ChartFormat? = nil, width: Int, height: Int,
                         scale: Double) throws -> AtomicOutput {
    guard width > 0, height > 0, scale.isFinite, scale > 0, Double(width) * scale <= 32767,
          Double(height) * scale <= 32767 else {
        throw ChartError.badSize(width: width, height: height, scale: scale)
    }
    guard let fmt = format ?? ChartFormat(path: path) else { throw ChartError.unknownFormat(path: path) }
    return AtomicOutput(path: path, mayReplace: { try checkFileOutput($0, what: "chart", isOurs: isGpt2labChart) }) { tmp in
        switch fmt {
        case .png: try writePNG(chart, tmp: tmp, path: path, width: width, height: height, scale: scale)
        case .svg: try writeSVG(chart, tmp: tmp, path: path, width: width, height: height)
        }
    }
}

public func render(_ chart: LineChart, to path: String, format: ChartFormat? = nil,
                   width: Int = 900, height: Int = 540, scale: Double = 1) throws {
    try render(.line(chart), to: path, format: format, width: width, height: height, scale: scale)
}
public func render(_ chart: SmallMultiples, to path: String, format: ChartFormat? = nil,
                   width: Int = 900, height: Int = 540, scale: Double = 1) throws {
    try render(.smallMultiples(chart), to: path, format: format, width: width, height: height, scale: scale)
}
public func render(_ chart: BarChart, to path: String, format: ChartFormat? = nil,
                   width: Int = 900, height: Int = 540, scale: Double = 1) throws {
    try render(.bar(chart), to: path, format: format, width: width, height: height, scale: scale)
}
public func render(_ chart: DotChart, to path: String, format: ChartFormat? = nil,
                   width: Int = 900, height: Int = 540, scale: Double = 1) throws {
    try render(.dot(chart), to: path, format: format, width: width, height: height, scale: scale)
}

private func statusText(_ s: cairo_status_t) -> String { String(cString: cairo_status_to_string(s)) }

/// "; no space left on its file system" when the folder of `path` has (almost) none free: Cairo reports a full
/// disk only as "error while writing to output stream".
private func fullDiskNote(_ path: String) -> String {
    var fs = statvfs()
    let dir = (path as NSString).deletingLastPathComponent
    guard statvfs(dir.isEmpty ? "." : dir, &fs) == 0 else { return "" }
    return UInt64(fs.f_bavail) * UInt64(fs.f_frsize) < 1 << 20 ? "; no space left on its file system" : ""
}

private func writePNG(_ chart: Chart, tmp: String, path: String, width: Int, height: Int, scale: Double) throws {
    let pw = Int32((Double(width) * scale).rounded()), ph = Int32((Double(height) * scale).rounded())
    guard let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pw, ph) else {
        throw ChartError.cairo(path: path, status: "no surface")
    }
    defer { cairo_surface_destroy(surface) }
    guard let cr = cairo_create(surface) else { throw ChartError.cairo(path: path, status: "no context") }
    cairo_scale(cr, scale, scale)
    draw(chart, Canvas(cr: cr, width: Double(width), height: Double(height)))
    let drawn = cairo_status(cr)
    cairo_destroy(cr)
    guard drawn == CAIRO_STATUS_SUCCESS else { throw ChartError.cairo(path: path, status: statusText(drawn)) }
    let written = cairo_surface_write_to_png(surface, tmp)
    guard written == CAIRO_STATUS_SUCCESS else { throw ChartError.cairo(path: path, status: statusText(written) + fullDiskNote(tmp)) }
    guard let png = FileManager.default.contents(atPath: tmp), let marked = markedPNG(png) else {
        throw ChartError.cairo(path: path, status: "unreadable PNG output")
    }
    try marked.write(to: URL(fileURLWithPath: tmp))
}

private func writeSVG(_ chart: Chart, tmp: String, path: String, width: Int, height: Int) throws {
    guard let surface = cairo_svg_surface_create(tmp, Double(width), Double(height)) else {
        throw ChartError.cairo(path: path, status: "no surface")
    }
    defer { cairo_surface_destroy(surface) }
    cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PX)
    guard let cr = cairo_create(surface) else { throw ChartError.cairo(path: path, status: "no context") }
    draw(chart, Canvas(cr: cr, width: Double(width), height: Double(height)))
    let drawn = cairo_status(cr)
    cairo_destroy(cr)
    cairo_surface_finish(surface)
    let status = cairo_surface_status(surface)
    guard drawn == CAIRO_STATUS_SUCCESS else { throw ChartError.cairo(path: path, status: statusText(drawn)) }
    guard status == CAIRO_STATUS_SUCCESS else { throw ChartError.cairo(path: path, status: statusText(status) + fullDiskNote(tmp)) }
    guard let svg = FileManager.default.contents(atPath: tmp) else { throw ChartError.cairo(path: path, status: "unreadable SVG output") }
    try Data(markedSVG(String(decoding: svg, as: UTF8.self)).utf8).write(to: URL(fileURLWithPath: tmp))
}

/// The one drawing routine both surfaces share.
private func draw(_ chart: Chart, _ c: Canvas) {
    c.color(.white)
    c.fillRect(Rect(x: 0, y: 0, w: c.width, h: c.height))
    switch chart {
    case .line(let l): drawLineChart(l, c)
    case .smallMultiples(let m): drawSmallMultiples(m, c)
    case .bar(let b): drawBarChart(b, c)
    case .dot(let d): drawDotChart(d, c)
    }
}

// MARK: - Shared layout: sizes, title, legend

/// Font sizes and spacing in layout units.
struct Style {
    var pad = 20.0
    var title = 17.0
    var legend = 12.5
    var axisLabel = 13.0
    var tick = 11.5
    var panelTitle = 12.5
    var note = 11.0        // reference-line and band labels
    var marker = 7.0
    var lineWidth = 2.0

    static let standard = Style()
    /// Smaller text and marks for small-multiple panels.
    static let panel = Style(pad: 0, title: 17, legend: 12.5, axisLabel: 11.5, tick: 10.5, panelTitle: 12.5,
                             note: 10, marker: 5.5, lineWidth: 1.6)
}

/// Draws the title at the top left; returns the y where content may start.
func drawTitle(_ title: String, _ c: Canvas, style: Style) -> Double {
    guard !title.isEmpty else { return style.pad }
    c.font(style.title, bold: true)
    c.color(.ink)
    let t = c.fit(title, maxWidth: c.width - 2 * style.pad)
    c.text(t, x: style.pad, y: style.pad, h: .start, v: .top)
    return style.pad + style.title * 0.73 + style.title * 0.9
}

/// A legend's sample of a series: its line (with the dash and marker the plot draws), or a bar.
enum LegendSwatch { case line(MarkerShape?, dash: [Double] = []), bar }

/// The dash of series `i` (its colour index) in a chart: a reference curve is dashed; without markers the lines
/// take a dash each, so one drawn over another (two runs whose curves coincide) still lets it show.
func seriesDash(_ chart: LineChart, _ ser: ChartSeries, index i: Int) -> [Double] {
    if ser.dashed { return [6, 4] }
    if chart.markers { return [] }
    return [[], [8, 4], [2, 3], [10, 3, 2, 3]][i % 4]
}

/// The legend swatch of series `i`: what drawLinePlot draws for it.
func lineSwatch(_ chart: LineChart, _ ser: ChartSeries, index i: Int) -> LegendSwatch {
    .line(chart.markers && !ser.dashed ? MarkerShape.shape(i) : nil, dash: seriesDash(chart, ser, index: i))
}

struct LegendItem {
    var name: String
    var color: RGB
    var swatch: LegendSwatch
}

/// Lays legend items out in rows within `width` starting at (x, y); draws them when `draw`.
/// Returns the height used (0 for no items).
@discardableResult
func legend(_ items: [LegendItem], _ c: Canvas, x: Double, y: Double, width: Double, style: Style, draw: Bool) -> Double {
    guard !items.isEmpty else { return 0 }
    c.font(style.legend)
    let swatchW = 24.0, gap = 6.0, spacing = 20.0, rowH = style.legend * 1.6
    var cx = x, cy = y
    for item in items {
        let name = c.fit(item.name, maxWidth: width - swatchW - gap)
        let w = swatchW + gap + c.textWidth(name)
        if cx > x && cx + w > x + width { cx = x; cy += rowH }
        if draw {
            let mid = cy + rowH / 2
            switch item.swatch {
            case .line(let shape, let dash):
                c.color(item.color)
                c.line(cx, mid, cx + swatchW, mid, width: style.lineWidth, dash: dash)
                if let shape { c.marker(shape, x: cx + swatchW / 2, y: mid, size: style.marker, color: item.color) }
            case .bar:
                c.color(item.color, alpha: 0.9)
                c.fillRect(Rect(x: cx + 5, y: mid - 6, w: 14, h: 12))
            }
            c.color(.ink)
            c.font(style.legend)
            c.text(name, x: cx + swatchW + gap, y: mid, h: .start, v: .middle)
        }
        cx += w + spacing
    }
    return cy + rowH - y
}

/// Text with a translucent white box behind it, for labels drawn over data.
func haloText(_ s: String, _ c: Canvas, x: Double, y: Double, h: HAlign, v: VAlign, color: RGB) {
    let w = c.textWidth(s)
    let left = h == .start ? x : h == .middle ? x - w / 2 : x - w
    let base: Double
    switch v {
    case .top: base = y + c.capHeight
    case .middle: base = y + c.capHeight / 2
    case .baseline: base = y
    case .bottom: base = y - c.fontSize * 0.24
    }
    c.color(.white, alpha: 0.8)
    c.fillRect(Rect(x: left - 3, y: base - c.capHeight - 3, w: w + 6, h: c.capHeight + c.fontSize * 0.24 + 6))
    c.color(color)
    c.text(s, x: x, y: y, h: h, v: v)
}
