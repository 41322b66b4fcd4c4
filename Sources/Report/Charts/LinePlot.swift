// Line charts and small multiples of line charts.

import Foundation

func drawLineChart(_ chart: LineChart, _ c: Canvas) {
    let s = Style.standard
    var y = drawTitle(chart.title, c, style: s)
    let items = chart.series.enumerated().map {
        LegendItem(name: $0.element.name, color: Palette.color($0.offset), swatch: lineSwatch(chart, $0.element, index: $0.offset))
    }
    if chart.series.count > 1 || !(chart.series.first?.name.isEmpty ?? true) {
        y += legend(items, c, x: s.pad, y: y, width: c.width - 2 * s.pad, style: s, draw: true) + 4
    }
    let area = Rect(x: s.pad, y: y, w: c.width - 2 * s.pad, h: c.height - y - s.pad * 0.6)
    drawLinePlot(chart, c, area: area, style: s, colorIndex: { i, _ in i }, panelTitle: nil,
                 showXLabel: true, showYLabel: true)
}

func drawSmallMultiples(_ m: SmallMultiples, _ c: Canvas) {
    let s = Style.standard
    var y = drawTitle(m.title, c, style: s)
    // One colour per series name, in order of first appearance across panels.
    var order: [(name: String, panel: LineChart, series: ChartSeries)] = []
    for p in m.panels { for ser in p.series where !order.contains(where: { $0.name == ser.name }) { order.append((ser.name, p, ser)) } }
    let index = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($0.element.name, $0.offset) })
    let items = order.enumerated().map {
        LegendItem(name: $0.element.name, color: Palette.color($0.offset),
                   swatch: lineSwatch($0.element.panel, $0.element.series, index: $0.offset))
    }
    y += legend(items, c, x: s.pad, y: y, width: c.width - 2 * s.pad, style: s, draw: true) + 6
    let n = m.panels.count
    guard n > 0 else { return }
    let cols = max(1, min(n, m.columns ?? Int(Double(n).squareRoot().rounded(.up))))
    let rows = (n + cols - 1) / cols
    let gapX = 22.0, gapY = 14.0
    let cellW = (c.width - 2 * s.pad - gapX * Double(cols - 1)) / Double(cols)
    let cellH = (c.height - y - s.pad * 0.6 - gapY * Double(rows - 1)) / Double(rows)
    for (i, panel) in m.panels.enumerated() {
        let r = i / cols, col = i % cols
        let area = Rect(x: s.pad + Double(col) * (cellW + gapX), y: y + Double(r) * (cellH + gapY), w: cellW, h: cellH)
        // x label only where no panel sits below, its space kept by the whole row so the row's axes line up;
        // y label only in the first column, its space kept by every column so the plots are one width and take
        // the same x ticks (the first column's narrower plot stepped its ticks differently).
        let below = i + cols < n
        let rowLabelled = (r * cols..<min(n, (r + 1) * cols)).contains { $0 + cols >= n }
        drawLinePlot(panel, c, area: area, style: .panel, colorIndex: { _, name in index[name] ?? 0 },
                     panelTitle: panel.title, showXLabel: !below, reserveXLabel: rowLabelled, showYLabel: col == 0,
                     reserveYLabel: true)
    }
}

/// The value axis for `values`, with as many ticks as fit in `length` units.
func valueAxis(_ values: [Double], scale: AxisScale, length: Double, includeZero: Bool) -> Axis {
    switch scale {
    case .linear:
        return linearAxis(values, target: max(3, min(8, Int(length / 55))), includeZero: includeZero)
    case .log: return logAxis(values)
    }
}

/// An x axis whose tick labels don't collide: fewer ticks until they fit.
func horizontalAxis(_ xs: [Double], _ c: Canvas, width: Double, integer: Bool, includeZero: Bool = false) -> Axis {
    var target = max(2, min(12, Int(width / 55)))
    while true {
        let a = linearAxis(xs, target: target, pad: 0.04, includeZero: includeZero, integer: integer)
        let widest = a.ticks.map { c.textWidth(a.label($0)) }.max() ?? 0
        let spacing = a.ticks.count > 1 ? width * (a.ticks[1] - a.ticks[0]) / (a.hi - a.lo) : width
        if widest + 10 <= spacing || target <= 2 { return a }
        target -= 1
    }
}

/// One line plot (axes, grid, band, reference line, series) inside `area`, which includes its
/// tick labels, axis labels and optional panel title.
func drawLinePlot(_ chart: LineChart, _ c: Canvas, area: Rect, style s: Style, colorIndex: (Int, String) -> Int,
                  panelTitle: String?, showXLabel: Bool, reserveXLabel: Bool = false, showYLabel: Bool,
                  reserveYLabel: Bool = false) {
    let pts = chart.series.flatMap { $0.points }.filter { $0.x.isFinite && $0.y.isFinite }
    let xs = pts.map(\.x) + (chart.verticalLines.map(\.value) + chart.xExtent).filter(\.isFinite)
    var ys = pts.map(\.y) + chart.yExtent.filter(\.isFinite)
    for ser in chart.series {
        for (i, e) in (ser.errors ?? []).enumerated() where i < ser.points.count && ser.points[i].x.isFinite {
            ys += [e.lo, e.hi]
        }
    }
    if let r = chart.referenceLine { ys.append(r.value) }
    if let b = chart.band { ys += [b.lo, b.hi] }

    var top = area.y + 8
    if let t = panelTitle, !t.isEmpty {
        c.font(s.panelTitle, bold: true)
        c.color(.ink)
        c.text(c.fit(t, maxWidth: area.w), x: area.x + area.w / 2, y: area.y, h: .middle, v: .top)
        top = area.y + s.panelTitle * 0.73 + 12
    }
    let xLabelH = (showXLabel || reserveXLabel) && !chart.xLabel.isEmpty ? s.axisLabel * 1.3 + 4 : 0
    let bottom = area.maxY - (s.tick * 1.3 + 8) - xLabelH
    let yAxis = valueAxis(ys, scale: chart.yScale, length: bottom - top, includeZero: chart.includeZero)
    c.font(s.tick)
    let yTickW = yAxis.ticks.map { c.textWidth(yAxis.label($0)) }.max() ?? 0
    let yLabelW = (showYLabel || reserveYLabel) && !chart.yLabel.isEmpty ? s.axisLabel * 1.3 + 4 : 0
    let left = area.x + yLabelW + yTickW + 8
    let integerX = !xs.isEmpty && xs.allSatisfy { $0 == $0.rounded() }
    let xAxis0 = horizontalAxis(xs, c, width: area.maxX - left - 10, integer: integerX)
    let lastXW = xAxis0.ticks.last.map { c.textWidth(xAxis0.label($0)) } ?? 0
    let right = area.maxX - max(6, lastXW / 2)
    let xAxis = horizontalAxis(xs, c, width: right - left, integer: integerX)
    let p = Rect(x: left, y: top, w: right - left, h: bottom - top)
    guard p.w > 10, p.h > 10 else { return }
    func px(_ v: Double) -> Double? { xAxis.fraction(v).map { p.x + $0 * p.w } }
    func py(_ v: Double) -> Double? { yAxis.fraction(v).map { p.maxY - $0 * p.h } }

    drawAxes(c, p, x: xAxis, y: yAxis, style: s, xLabel: showXLabel ? chart.xLabel : "",
             yLabel: showYLabel ? chart.yLabel : "", yLabelX: area.x)
    // Pixels the data covers (points and lines sampled every few units), for label placement.
    var obstacles: [(Double, Double)] = []
    for ser in chart.series {
        var prev: (Double, Double)?
        for pt in ser.points {
            guard pt.y.isFinite, let x = px(pt.x), let y = py(pt.y) else { prev = nil; continue }
            if let (x0, y0) = prev {
                let n = max(1, Int((abs(x - x0) + abs(y - y0)) / 3))
                for k in 0..<n { let t = Double(k) / Double(n); obstacles.append((x0 + t * (x - x0), y0 + t * (y - y0))) }
            }
            obstacles.append((x, y))
            prev = (x, y)
        }
    }
    if let b = chart.band { drawHorizontalBand(b, c, p, py: py, style: s, avoid: obstacles) }
    if let r = chart.referenceLine { drawHorizontalReference(r, c, p, py: py, style: s, avoid: obstacles) }
    for (k, v) in chart.verticalLines.enumerated() {
        guard let x = px(v.value), x >= p.x - 0.5, x <= p.maxX + 0.5 else { continue }
        let i = v.series.flatMap { name in chart.series.firstIndex { $0.name == name } }
        i.map { c.color(Palette.color(colorIndex($0, chart.series[$0].name)), alpha: 0.9) } ?? c.color(.ink, alpha: 0.8)
        c.line(x, p.y, x, p.maxY, width: 1.2, dash: [6, 4])
        guard !v.label.isEmpty else { continue }
        c.font(s.note)
        let t = c.fit(v.label, maxWidth: p.w / 2)
        // Labels stacked down from the top, on the side with more room.
        let y = p.y + 4 + Double(k) * s.note * 1.4
        haloText(t, c, x: x < p.x + p.w / 2 ? x + 4 : x - 4, y: y, h: x < p.x + p.w / 2 ? .start : .end, v: .top, color: .ink)
    }

    for (i, ser) in chart.series.enumerated() {
        let color = Palette.color(colorIndex(i, ser.name))
        if let errs = ser.errors {
            c.color(color, alpha: 0.85)
            for (j, e) in errs.enumerated() where j < ser.points.count {
                guard let x = px(ser.points[j].x), let a = py(e.lo), let b = py(e.hi) else { continue }
                c.errorBar(at: x, from: a, to: b, cap: s.marker * 0.55, width: s.lineWidth * 0.6)
            }
        }
        let xy: [(Double, Double)?] = ser.points.map { pt in
            guard pt.y.isFinite, let x = px(pt.x), let y = py(pt.y) else { return nil }
            return (x, y)
        }
        c.color(color)
        c.polyline(xy, width: s.lineWidth, dash: seriesDash(chart, ser, index: colorIndex(i, ser.name)))
        if chart.markers && !ser.dashed {
            for case let (x, y)? in xy {
                c.marker(MarkerShape.shape(colorIndex(i, ser.name)), x: x, y: y, size: s.marker + 1, color: color)
            }
        }
    }
}

/// Grid, spines, tick marks and labels, axis labels around plot rect `p`.
func drawAxes(_ c: Canvas, _ p: Rect, x: Axis?, y: Axis?, style s: Style, xLabel: String, yLabel: String,
              yLabelX: Double, xLabelsOverride: Bool = false) {
    c.font(s.tick)
    var lastLabelY = Double.infinity
    if let y {
        for t in y.ticks {
            guard let f = y.fraction(t), f >= -1e-9, f <= 1 + 1e-9 else { continue }
            let yy = p.maxY - f * p.h
            c.color(.grid)
            c.line(p.x, yy, p.maxX, yy, width: 1)
            if lastLabelY - yy >= s.tick * 1.2 {      // thin out crowded (log) labels
                c.color(.axis)
                c.line(p.x - 4, yy, p.x, yy, width: 1)
                c.color(.muted)
                c.text(y.label(t), x: p.x - 7, y: yy, h: .end, v: .middle)
                lastLabelY = yy
            }
        }
    }
    if let x {
        for t in x.ticks {
            guard let f = x.fraction(t), f >= -1e-9, f <= 1 + 1e-9 else { continue }
            let xx = p.x + f * p.w
            c.color(.grid, alpha: 0.6)
            c.line(xx, p.y, xx, p.maxY, width: 1)
            c.color(.axis)
            c.line(xx, p.maxY, xx, p.maxY + 4, width: 1)
            c.color(.muted)
            c.text(x.label(t), x: xx, y: p.maxY + 7, h: .middle, v: .top)
        }
    }
    c.color(.axis)
    c.line(p.x, p.y, p.x, p.maxY + 0.5, width: 1.1)
    c.line(p.x - 0.5, p.maxY, p.maxX, p.maxY, width: 1.1)
    c.font(s.axisLabel)
    c.color(.ink)
    if !xLabel.isEmpty {
        c.text(c.fit(xLabel, maxWidth: p.w), x: p.x + p.w / 2, y: p.maxY + 7 + s.tick * 1.3 + 4, h: .middle, v: .top)
    }
    if !yLabel.isEmpty {
        c.text(c.fit(yLabel, maxWidth: p.h), x: yLabelX, y: p.y + p.h / 2, h: .middle, v: .top, angle: Double.pi / 2)
    }
}

/// Of the candidate anchors for `text` (current font), the first whose box covers the fewest
/// obstacle points; the box is kept inside `p`.
func placeLabel(_ text: String, _ c: Canvas, candidates: [(x: Double, y: Double, h: HAlign, v: VAlign)],
                avoid: [(Double, Double)]) -> (x: Double, y: Double, h: HAlign, v: VAlign) {
    let w = c.textWidth(text), capH = c.capHeight, desc = c.fontSize * 0.24
    func hits(_ a: (x: Double, y: Double, h: HAlign, v: VAlign)) -> Int {
        let left = a.h == .start ? a.x : a.h == .middle ? a.x - w / 2 : a.x - w
        let base: Double
        switch a.v {
        case .top: base = a.y + capH
        case .middle: base = a.y + capH / 2
        case .baseline: base = a.y
        case .bottom: base = a.y - desc
        }
        let (x0, x1, y0, y1) = (left - 6, left + w + 6, base - capH - 6, base + desc + 6)
        return avoid.reduce(0) { $0 + ($1.0 >= x0 && $1.0 <= x1 && $1.1 >= y0 && $1.1 <= y1 ? 1 : 0) }
    }
    var best = candidates[0], bestHits = Int.max
    for cand in candidates {
        let h = hits(cand)
        if h < bestHits { best = cand; bestHits = h }
        if h == 0 { break }
    }
    return best
}

func drawHorizontalBand(_ b: Band, _ c: Canvas, _ p: Rect, py: (Double) -> Double?, style s: Style,
                        avoid: [(Double, Double)] = [], fill: Bool = true, label: Bool = true) {
    guard let y0 = py(b.lo), let y1 = py(b.hi) else { return }
    let top = max(p.y, min(y0, y1)), bot = min(p.maxY, max(y0, y1))
    guard bot > top else { return }
    if fill {
        c.color(.bandFill, alpha: 0.2)
        c.fillRect(Rect(x: p.x, y: top, w: p.w, h: bot - top))
    }
    if label && !b.label.isEmpty {
        c.font(s.note)
        let t = c.fit(b.label, maxWidth: p.w / 2)
        let a = placeLabel(t, c, candidates: [(p.x + 6, top - 3, .start, .bottom), (p.maxX - 6, top - 3, .end, .bottom),
                                              (p.x + 6, bot + 3, .start, .top), (p.maxX - 6, bot + 3, .end, .top),
                                              (p.x + p.w / 2, top - 3, .middle, .bottom)], avoid: avoid)
        haloText(t, c, x: a.x, y: a.y, h: a.h, v: a.v, color: .muted)
    }
}

/// Band edges as thin dotted lines, for drawing over bars that hide the band's fill.
func drawBandEdges(_ b: Band, _ c: Canvas, _ p: Rect, py: (Double) -> Double?) {
    c.color(.muted, alpha: 0.9)
    for v in [b.lo, b.hi] {
        if let y = py(v), y >= p.y, y <= p.maxY { c.line(p.x, y, p.maxX, y, width: 0.8, dash: [2, 2]) }
    }
}

func drawHorizontalReference(_ r: ReferenceLine, _ c: Canvas, _ p: Rect, py: (Double) -> Double?, style s: Style,
                             avoid: [(Double, Double)] = []) {
    guard let y = py(r.value), y >= p.y - 0.5, y <= p.maxY + 0.5 else { return }
    c.color(.ink, alpha: 0.8)
    c.line(p.x, y, p.maxX, y, width: 1.2, dash: [6, 4])
    if !r.label.isEmpty {
        c.font(s.note)
        let t = c.fit(r.label, maxWidth: p.w / 2)
        let a = placeLabel(t, c, candidates: [(p.maxX - 4, y - 3, .end, .bottom), (p.x + 6, y - 3, .start, .bottom),
                                              (p.maxX - 4, y + 3, .end, .top), (p.x + 6, y + 3, .start, .top),
                                              (p.x + p.w / 2, y - 3, .middle, .bottom)], avoid: avoid)
        haloText(t, c, x: a.x, y: a.y, h: a.h, v: a.v, color: .ink)
    }
}
