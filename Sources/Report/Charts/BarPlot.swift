// Grouped bar charts and horizontal dot + interval charts (both: categories × series).

import Foundation

/// How category labels under a bar chart are set.
private enum CategoryLabels {
    case flat
    case wrapped([[String]])      // lines per category
    case rotated(Double)          // angle in radians
}

/// Splits a label into words, keeping "-", "_" and "/" at the end of the piece before them.
private func words(_ s: String) -> [String] {
    var out: [String] = [], cur = ""
    for ch in s {
        if ch == " " { if !cur.isEmpty { out.append(cur) }; cur = ""; continue }
        cur.append(ch)
        if ch == "-" || ch == "_" || ch == "/" { out.append(cur); cur = "" }
    }
    if !cur.isEmpty { out.append(cur) }
    return out
}

/// Greedy wrap into lines no wider than `width`, or nil if a word alone is too wide or it needs
/// more than `maxLines`.
private func wrap(_ s: String, _ c: Canvas, width: Double, maxLines: Int) -> [String]? {
    var lines: [String] = [], cur = ""
    for w in words(s) {
        let joiner = cur.isEmpty || cur.hasSuffix("-") || cur.hasSuffix("_") || cur.hasSuffix("/") ? "" : " "
        let candidate = cur + joiner + w
        if c.textWidth(candidate) <= width { cur = candidate; continue }
        if c.textWidth(w) > width { return nil }
        lines.append(cur); cur = w
    }
    if !cur.isEmpty { lines.append(cur) }
    return lines.count <= maxLines ? lines : nil
}

private func seriesValues(_ series: [BarSeries]) -> [Double] {
    var vs: [Double] = []
    for s in series {
        vs += s.values
        for e in s.errors ?? [] { vs += [e.lo, e.hi] }
    }
    return vs.filter(\.isFinite)
}

func drawBarChart(_ chart: BarChart, _ c: Canvas) {
    let s = Style.standard
    var y = drawTitle(chart.title, c, style: s)
    let items = chart.series.enumerated().map {
        LegendItem(name: $0.element.name, color: Palette.color($0.offset), swatch: .bar)
    }
    if chart.series.count > 1 {
        y += legend(items, c, x: s.pad, y: y, width: c.width - 2 * s.pad, style: s, draw: true) + 4
    }
    let area = Rect(x: s.pad, y: y + 8, w: c.width - 2 * s.pad, h: c.height - y - 8 - s.pad * 0.6)
    var vs = seriesValues(chart.series)
    if let r = chart.referenceLine { vs.append(r.value) }
    if let b = chart.band { vs += [b.lo, b.hi] }
    let nCat = chart.categories.count

    // Y axis first (its labels fix the left margin), with a guess at the plot height.
    let yAxis = linearAxis(vs, target: max(3, min(8, Int((area.h - 60) / 55))), pad: 0.06, includeZero: true)
    c.font(s.tick)
    let yTickW = yAxis.ticks.map { c.textWidth(yAxis.label($0)) }.max() ?? 0
    let yLabelW = chart.yLabel.isEmpty ? 0 : s.axisLabel * 1.3 + 4
    var left = area.x + yLabelW + yTickW + 8
    let right = area.maxX - 4
    var slot = (right - left) / Double(max(1, nCat))

    // Category labels: flat if they fit, else wrapped into ≤ 3 lines, else rotated 40°.
    c.font(s.tick + 0.5)
    let widest = chart.categories.map { c.textWidth($0) }.max() ?? 0
    var mode = CategoryLabels.flat
    var labelH = s.tick * 1.3
    var labelStride = 1
    if widest > slot * 0.92 {
        let wrapped = chart.categories.map { wrap($0, c, width: slot * 0.92, maxLines: 3) }
        if wrapped.allSatisfy({ $0 != nil }) {
            let lines = wrapped.map { $0! }
            mode = .wrapped(lines)
            labelH = Double(lines.map(\.count).max() ?? 1) * c.lineHeight
        } else {
            // 40° when neighbours clear each other (their perpendicular spacing is slot·sin θ),
            // else vertical, else vertical and only every `labelStride`-th label.
            let need = c.lineHeight * 1.05
            let angle = slot * sin(40 * Double.pi / 180) >= need ? 40 * Double.pi / 180 : Double.pi / 2
            labelStride = angle < Double.pi / 2 ? 1 : Int((need / max(slot, 1e-9)).rounded(.up))
            mode = .rotated(angle)
            let maxW = min(widest, area.h * 0.35 / sin(angle))
            labelH = maxW * sin(angle) + c.capHeight * cos(angle) + 4
            // The first label reaches left past its slot; make room for it.
            let firstW = min(c.textWidth(chart.categories.first ?? ""), maxW)
            left = max(left, area.x + firstW * cos(angle) - slot / 2 + 4)
            slot = (right - left) / Double(max(1, nCat))
        }
    }
    let p = Rect(x: left, y: area.y, w: right - left, h: area.maxY - area.y - labelH - 8)
    guard p.w > 10, p.h > 10 else { return }
    func py(_ v: Double) -> Double? { yAxis.fraction(v).map { p.maxY - $0 * p.h } }

    drawAxes(c, p, x: nil, y: yAxis, style: s, xLabel: "", yLabel: chart.yLabel, yLabelX: left - yTickW - 8 - yLabelW)
    if let b = chart.band { drawHorizontalBand(b, c, p, py: py, style: s, label: false) }

    let nSer = max(1, chart.series.count)
    let groupW = slot * 0.78, barW = groupW / Double(nSer)
    let zeroY = py(0) ?? p.maxY
    var obstacles: [(Double, Double)] = []     // bar areas, sampled, for label placement
    for (si, ser) in chart.series.enumerated() {
        let color = Palette.color(si)
        for (ci, v) in ser.values.enumerated() where ci < nCat {
            let x0 = p.x + Double(ci) * slot + (slot - groupW) / 2 + Double(si) * barW
            if let vy = py(v) {
                c.color(color, alpha: 0.9)
                c.fillRect(Rect(x: x0 + 0.5, y: min(vy, zeroY), w: barW - 1, h: abs(zeroY - vy)))
                var sy = min(vy, zeroY)
                while sy <= max(vy, zeroY) {
                    var sx = x0
                    while sx <= x0 + barW { obstacles.append((sx, sy)); sx += 4 }
                    sy += 4
                }
                if chart.valueLabels {
                    c.font(s.note)
                    let label = compactNumber(v)
                    if c.textWidth(label) <= barW + slot * 0.12 {
                        let errTop = ser.errors.flatMap { ci < $0.count ? py(v >= 0 ? $0[ci].hi : $0[ci].lo) : nil }
                        let anchor = v >= 0 ? min(vy, errTop ?? vy) - 3 : max(vy, errTop ?? vy) + 3
                        c.color(.ink)
                        c.text(label, x: x0 + barW / 2, y: anchor, h: .middle, v: v >= 0 ? .bottom : .top)
                        let mid = v >= 0 ? anchor - c.capHeight / 2 : anchor + c.capHeight / 2
                        obstacles += [(x0 + barW / 2, mid), (x0 + barW / 2 - c.textWidth(label) / 2, mid),
                                      (x0 + barW / 2 + c.textWidth(label) / 2, mid)]
                    }
                }
            }
            if let errs = ser.errors, ci < errs.count, let a = py(errs[ci].lo), let b = py(errs[ci].hi) {
                c.color(.ink)
                c.errorBar(at: x0 + barW / 2, from: a, to: b, cap: min(barW * 0.25, 5), width: 1.2)
            }
        }
    }
    c.color(.axis)
    c.line(p.x - 0.5, zeroY, p.maxX, zeroY, width: 1.1)
    if let b = chart.band {
        drawBandEdges(b, c, p, py: py)
        drawHorizontalBand(b, c, p, py: py, style: s, avoid: obstacles, fill: false)
    }
    if let r = chart.referenceLine { drawHorizontalReference(r, c, p, py: py, style: s, avoid: obstacles) }

    // Category labels.
    c.font(s.tick + 0.5)
    c.color(.ink)
    for (ci, name) in chart.categories.enumerated() where ci % labelStride == 0 {
        let cx = p.x + (Double(ci) + 0.5) * slot
        switch mode {
        case .flat:
            c.text(name, x: cx, y: p.maxY + 8, h: .middle, v: .top)
        case .wrapped(let lines):
            for (li, line) in lines[ci].enumerated() {
                c.text(line, x: cx, y: p.maxY + 8 + Double(li) * c.lineHeight, h: .middle, v: .top)
            }
        case .rotated(let angle):
            let label = c.fit(name, maxWidth: area.h * 0.35 / sin(angle))
            c.text(label, x: cx + (angle < Double.pi / 2 ? c.capHeight * 0.3 : 0), y: p.maxY + 8, h: .end, v: .middle, angle: angle)
        }
    }
}

func drawDotChart(_ chart: DotChart, _ c: Canvas) {
    let s = Style.standard
    var y = drawTitle(chart.title, c, style: s)
    let items = chart.series.enumerated().map {
        LegendItem(name: $0.element.name, color: Palette.color($0.offset), swatch: .line(MarkerShape.shape($0.offset)))
    }
    if chart.series.count > 1 {
        y += legend(items, c, x: s.pad, y: y, width: c.width - 2 * s.pad, style: s, draw: true) + 4
    }
    let hasTopNote = chart.band.map { !$0.label.isEmpty } ?? false || chart.referenceLine.map { !$0.label.isEmpty } ?? false
    let area = Rect(x: s.pad, y: y + (hasTopNote ? s.note * 1.6 : 6), w: c.width - 2 * s.pad,
                    h: c.height - y - (hasTopNote ? s.note * 1.6 : 6) - s.pad * 0.6)
    var vs = seriesValues(chart.series)
    if chart.zeroLine { vs.append(0) }
    if let b = chart.band { vs += [b.lo, b.hi] }
    if let r = chart.referenceLine { vs.append(r.value) }

    c.font(s.tick + 1)
    let maxLabel = c.width * 0.35
    let labels = chart.categories.map { c.fit($0, maxWidth: maxLabel) }
    let left = area.x + (labels.map { c.textWidth($0) }.max() ?? 0) + 14
    let xLabelH = chart.xLabel.isEmpty ? 0 : s.axisLabel * 1.3 + 4
    c.font(s.tick)
    let xAxis0 = horizontalAxis(vs, c, width: area.maxX - left, integer: false)
    let lastW = xAxis0.ticks.last.map { c.textWidth(xAxis0.label($0)) } ?? 0
    let right = area.maxX - max(6, lastW / 2)
    let xAxis = horizontalAxis(vs, c, width: right - left, integer: false)
    let p = Rect(x: left, y: area.y, w: right - left, h: area.maxY - area.y - (s.tick * 1.3 + 8) - xLabelH)
    guard p.w > 10, p.h > 10 else { return }
    func px(_ v: Double) -> Double? { xAxis.fraction(v).map { p.x + $0 * p.w } }
    let nCat = max(1, chart.categories.count)
    let rowH = p.h / Double(nCat)

    drawAxes(c, p, x: xAxis, y: nil, style: s, xLabel: chart.xLabel, yLabel: "", yLabelX: area.x)
    // Row guides and labels.
    c.font(s.tick + 1)
    for (ci, label) in labels.enumerated() {
        let cy = p.y + (Double(ci) + 0.5) * rowH
        c.color(.grid)
        c.line(p.x, cy, p.maxX, cy, width: 1, dash: [2, 3])
        c.color(.ink)
        c.text(label, x: p.x - 8, y: cy, h: .end, v: .middle)
    }
    if let b = chart.band, let x0 = px(b.lo), let x1 = px(b.hi) {
        c.color(.bandFill, alpha: 0.2)
        c.fillRect(Rect(x: min(x0, x1), y: p.y, w: abs(x1 - x0), h: p.h))
        if !b.label.isEmpty {
            c.font(s.note)
            c.color(.muted)
            c.text(c.fit(b.label, maxWidth: p.w / 2), x: (x0 + x1) / 2, y: p.y - 4, h: .middle, v: .bottom)
        }
    }
    if chart.zeroLine, let x0 = px(0) {
        c.color(.axis)
        c.line(x0, p.y, x0, p.maxY, width: 1.2)
    }
    if let r = chart.referenceLine, let xr = px(r.value) {
        c.color(.ink, alpha: 0.8)
        c.line(xr, p.y, xr, p.maxY, width: 1.2, dash: [6, 4])
        if !r.label.isEmpty {
            c.font(s.note)
            c.color(.ink)
            let w = c.textWidth(r.label)
            let h: HAlign = xr + w / 2 > p.maxX ? .end : xr - w / 2 < p.x ? .start : .middle
            c.text(r.label, x: xr, y: p.y - 4, h: h, v: .bottom)
        }
    }
    let nSer = max(1, chart.series.count)
    let offset = min(rowH * 0.6 / Double(nSer), 14)
    for (si, ser) in chart.series.enumerated() {
        let color = Palette.color(si)
        for (ci, v) in ser.values.enumerated() where ci < chart.categories.count {
            let cy = p.y + (Double(ci) + 0.5) * rowH + (Double(si) - Double(nSer - 1) / 2) * offset
            if let errs = ser.errors, ci < errs.count, let a = px(errs[ci].lo), let b = px(errs[ci].hi) {
                c.color(color)
                c.errorBar(at: cy, from: a, to: b, cap: min(4, offset * 0.4 + 2), horizontal: true, width: 1.8)
            }
            if let x = px(v) { c.marker(MarkerShape.shape(si), x: x, y: cy, size: s.marker + 2, color: color) }
        }
    }
}
