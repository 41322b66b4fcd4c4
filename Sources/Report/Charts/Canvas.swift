// A thin drawing layer over a cairo_t: colours, DejaVu Sans text with anchors, lines, markers.
// Coordinates are layout units (CSS pixels at scale 1); the PNG path scales the context, so
// the same calls give a 2× image at scale 2 and a vector SVG.

import CCairo
import Foundation

struct RGB: Sendable {
    var r: Double, g: Double, b: Double
    init(_ hex: UInt32) {
        r = Double((hex >> 16) & 0xFF) / 255; g = Double((hex >> 8) & 0xFF) / 255; b = Double(hex & 0xFF) / 255
    }
    static let ink = RGB(0x222222)
    static let axis = RGB(0x555555)
    static let muted = RGB(0x666666)
    static let grid = RGB(0xE6E6E6)
    static let white = RGB(0xFFFFFF)
    static let bandFill = RGB(0x999999)
}

/// Okabe & Ito (2008) colour-blind-safe palette, ordered for contrast on white: blue, vermillion,
/// bluish green, orange, reddish purple, sky blue, black, yellow (weakest on white, so last).
enum Palette {
    static let colors: [RGB] = [RGB(0x0072B2), RGB(0xD55E00), RGB(0x009E73), RGB(0xE69F00),
                                RGB(0xCC79A7), RGB(0x56B4E9), RGB(0x000000), RGB(0xF0E442)]
    static func color(_ i: Int) -> RGB { colors[((i % colors.count) + colors.count) % colors.count] }
}

/// Marker shapes, cycled with the colours (shape + colour both distinguish series).
enum MarkerShape: CaseIterable {
    case circle, square, triangle, diamond, triangleDown
    static func shape(_ i: Int) -> MarkerShape { allCases[i % allCases.count] }
}

enum HAlign { case start, middle, end }
enum VAlign { case top, middle, baseline, bottom }

struct Rect {
    var x: Double, y: Double, w: Double, h: Double
    var maxX: Double { x + w }
    var maxY: Double { y + h }
}

final class Canvas {
    let cr: OpaquePointer
    let width: Double
    let height: Double
    static let fontFamily = "DejaVu Sans"

    init(cr: OpaquePointer, width: Double, height: Double) {
        self.cr = cr; self.width = width; self.height = height
        // Unhinted metrics: text measures the same in PNG at any scale and in SVG.
        let opts = cairo_font_options_create()
        cairo_font_options_set_hint_metrics(opts, CAIRO_HINT_METRICS_OFF)
        cairo_font_options_set_hint_style(opts, CAIRO_HINT_STYLE_NONE)
        cairo_font_options_set_antialias(opts, CAIRO_ANTIALIAS_GRAY)
        cairo_set_font_options(cr, opts)
        cairo_font_options_destroy(opts)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT)
    }

    func color(_ c: RGB, alpha: Double = 1) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha) }

    func font(_ size: Double, bold: Bool = false) {
        cairo_select_font_face(cr, Canvas.fontFamily, CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
        fontSize = size
    }
    private(set) var fontSize = 12.0

    /// Advance width of `s` in the current font.
    func textWidth(_ s: String) -> Double {
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, s, &e)
        return e.x_advance
    }

    /// Height of capitals in the current font (DejaVu Sans: 0.73 em); used to centre text.
    var capHeight: Double { fontSize * 0.73 }
    /// Line height for stacked text.
    var lineHeight: Double { fontSize * 1.25 }

    /// Draws `s` anchored at (x, y); `angle` in radians, counter-clockwise positive (−π/2 reads
    /// bottom to top). Alignment is relative to the rotated text.
    func text(_ s: String, x: Double, y: Double, h: HAlign = .start, v: VAlign = .baseline, angle: Double = 0) {
        let w = textWidth(s)
        let dx: Double = h == .start ? 0 : h == .middle ? -w / 2 : -w
        let dy: Double
        switch v {
        case .top: dy = capHeight
        case .middle: dy = capHeight / 2
        case .baseline: dy = 0
        case .bottom: dy = -fontSize * 0.24   // clear the descenders
        }
        cairo_save(cr)
        cairo_translate(cr, x, y)
        cairo_rotate(cr, -angle)
        cairo_move_to(cr, dx, dy)
        cairo_show_text(cr, s)
        cairo_restore(cr)
    }

    func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Double = 1, dash: [Double] = []) {
        cairo_set_line_width(cr, width)
        cairo_set_dash(cr, dash, Int32(dash.count), 0)
        cairo_move_to(cr, x0, y0)
        cairo_line_to(cr, x1, y1)
        cairo_stroke(cr)
        cairo_set_dash(cr, nil, 0, 0)
    }

    /// Polyline through `points`; nil entries break it. `dash`: on/off lengths (empty: solid).
    func polyline(_ points: [(Double, Double)?], width: Double, dash: [Double] = []) {
        cairo_set_line_width(cr, width)
        cairo_set_dash(cr, dash, Int32(dash.count), 0)
        defer { cairo_set_dash(cr, nil, 0, 0) }
        var open = false
        for p in points {
            if let (x, y) = p {
                if open { cairo_line_to(cr, x, y) } else { cairo_move_to(cr, x, y); open = true }
            } else { open = false }
        }
        cairo_stroke(cr)
    }

    func fillRect(_ r: Rect) {
        cairo_rectangle(cr, r.x, r.y, r.w, r.h)
        cairo_fill(cr)
    }

    func clip(_ r: Rect) { cairo_save(cr); cairo_rectangle(cr, r.x, r.y, r.w, r.h); cairo_clip(cr) }
    func unclip() { cairo_restore(cr) }

    /// A filled marker with a thin white outline so overlapping markers stay distinct.
    func marker(_ shape: MarkerShape, x: Double, y: Double, size: Double, color c: RGB) {
        let r = size / 2
        switch shape {
        case .circle: cairo_arc(cr, x, y, r, 0, 2 * Double.pi)
        case .square: cairo_rectangle(cr, x - r * 0.88, y - r * 0.88, r * 1.76, r * 1.76)
        case .triangle:
            cairo_move_to(cr, x, y - r * 1.15); cairo_line_to(cr, x + r * 1.05, y + r * 0.75)
            cairo_line_to(cr, x - r * 1.05, y + r * 0.75); cairo_close_path(cr)
        case .triangleDown:
            cairo_move_to(cr, x, y + r * 1.15); cairo_line_to(cr, x + r * 1.05, y - r * 0.75)
            cairo_line_to(cr, x - r * 1.05, y - r * 0.75); cairo_close_path(cr)
        case .diamond:
            cairo_move_to(cr, x, y - r * 1.2); cairo_line_to(cr, x + r * 1.0, y)
            cairo_line_to(cr, x, y + r * 1.2); cairo_line_to(cr, x - r * 1.0, y); cairo_close_path(cr)
        }
        color(c)
        cairo_fill_preserve(cr)
        color(.white)
        cairo_set_line_width(cr, 0.9)
        cairo_stroke(cr)
    }

    /// Vertical interval with caps at x from y0 to y1 (or horizontal when `horizontal`).
    func errorBar(at c: Double, from a: Double, to b: Double, cap: Double, horizontal: Bool = false, width: Double = 1.3) {
        if horizontal {
            line(a, c, b, c, width: width)
            line(a, c - cap, a, c + cap, width: width)
            line(b, c - cap, b, c + cap, width: width)
        } else {
            line(c, a, c, b, width: width)
            line(c - cap, a, c + cap, a, width: width)
            line(c - cap, b, c + cap, b, width: width)
        }
    }

    /// `s` shortened with "…" to fit `maxWidth` in the current font.
    func fit(_ s: String, maxWidth: Double) -> String {
        if textWidth(s) <= maxWidth { return s }
        var chars = Array(s)
        while chars.count > 1 && textWidth(String(chars) + "…") > maxWidth { chars.removeLast() }
        return String(chars) + "…"
    }
}
