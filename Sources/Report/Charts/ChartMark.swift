// The mark gpt2lab leaves in the charts it writes (a PNG tEXt chunk "Software: gpt2lab", an SVG
// comment), so that a later run may replace its own chart but never a user's image of the same name.

import Foundation
import Plumbing

let chartMarkValue = "gpt2lab"
private let svgMark = "<!-- Software: gpt2lab -->"
private let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

/// `png` with a tEXt chunk "Software\0gpt2lab" after its IHDR chunk; nil if `png` is no PNG.
func markedPNG(_ png: Data) -> Data? {
    let bytes = [UInt8](png)
    guard bytes.count > 33, Array(bytes[0..<8]) == pngSignature, Array(bytes[12..<16]) == Array("IHDR".utf8) else { return nil }
    let ihdrEnd = 8 + 12 + 13                                   // signature, IHDR's length+type+CRC, its 13 bytes
    let body = Array("tEXt".utf8) + Array("Software".utf8) + [0] + Array(chartMarkValue.utf8)
    var chunk = bigEndian(UInt32(body.count - 4)) + body
    chunk += bigEndian(crc32(body))
    return Data(bytes[0..<ihdrEnd] + chunk + bytes[ihdrEnd...])
}

/// An SVG document with gpt2lab's comment after its XML declaration.
func markedSVG(_ svg: String) -> String {
    guard let end = svg.range(of: "?>\n") else { return svgMark + "\n" + svg }
    return String(svg[..<end.upperBound]) + svgMark + "\n" + String(svg[end.upperBound...])
}

/// Whether the file at `path` is a chart gpt2lab wrote (PNG or SVG with its mark).
public func isGpt2labChart(_ path: String) -> Bool {
    guard let h = FileHandle(forReadingAtPath: path) else { return false }
    defer { try? h.close() }
    let head = [UInt8]((try? h.read(upToCount: 4096)) ?? Data())
    if head.starts(with: pngSignature) {
        let needle = Array("tEXtSoftware".utf8) + [0] + Array(chartMarkValue.utf8)
        return head.count >= needle.count && (0...(head.count - needle.count)).contains { head[$0..<$0 + needle.count].elementsEqual(needle) }
    }
    return String(decoding: head, as: UTF8.self).contains(svgMark)
}

private func bigEndian(_ x: UInt32) -> [UInt8] { [UInt8(x >> 24), UInt8(x >> 16 & 0xFF), UInt8(x >> 8 & 0xFF), UInt8(x & 0xFF)] }

/// CRC-32 (ISO 3309, as PNG chunks use) of `bytes`.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return c ^ 0xFFFF_FFFF
}

/// Removes the chart gpt2lab wrote at `path` on an earlier run when this run draws none there (a steps chart
/// when the checkpoints are no longer steps of one run), so the folder never shows a chart of other checkpoints
/// beside the new ones; a file without gpt2lab's mark is left. Returns whether one was removed.
public func removeStaleChart(_ path: String) -> Bool {
    guard FileManager.default.fileExists(atPath: path), isGpt2labChart(path) else { return false }
    return (try? FileManager.default.removeItem(atPath: path)) != nil
}
