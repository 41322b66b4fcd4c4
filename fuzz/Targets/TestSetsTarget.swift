// Target (c): test-set readers and window plans. The first byte picks the reader: a nanoGPT
// .bin, a safetensors token file (the rest of the input is the file), or a WindowPlan whose
// token count, context, stride, skip and max-tokens come from the input (any Int, small ones
// favoured). Invariants: a .bin reads to size/2 ids; a plan scores every target exactly once.

import Foundation
import TestSets

public func fuzzTestSets(_ input: UnsafeRawBufferPointer) -> String? {
    var r = ByteReader(input)
    switch r.u8() % 3 {
    case 0:
        let body = r.rest()
        let path = scratchFile("input.bin", body)
        if let t = try? loadTokenIDs(path: path) {
            guard body.count % 2 == 0, t.ids.count == body.count / 2 else { return ".bin of \(body.count) bytes read as \(t.ids.count) ids" }
            _ = try? validateTokenIDs(t.ids, vocabSize: 50257, path: path)
        } else if body.count % 2 == 0 && body.count >= 4 {
            return "a well-formed .bin of \(body.count) bytes was refused"
        }
    case 1:
        let path = scratchFile("input.safetensors", r.rest())
        if let t = try? loadTokenIDs(path: path) { _ = try? validateTokenIDs(t.ids, vocabSize: 50257, path: path) }
        _ = try? loadTokenIDs(path: path, dataset: "tokens")
    default:
        /// Small values mostly (what plans are made of), sometimes any Int.
        func int(_ r: inout ByteReader) -> Int {
            let k = r.u8()
            switch k % 4 {
            case 0: return Int(truncatingIfNeeded: r.u64())
            case 1: return Int(r.u8()) - 8
            default: return Int(r.u8()) << (Int(k >> 2) % 10)
            }
        }
        let n = Int(r.u8()) << (Int(r.u8()) % 12)          // up to ~1M tokens
        let T = int(&r), S = int(&r), skip = int(&r)
        let maxTokens = r.u8() % 2 == 0 ? nil : int(&r)
        guard let plan = try? WindowPlan(tokenCount: n, context: T, stride: S, skip: skip, maxTokens: maxTokens) else { return nil }
        return checkPlan(plan, n: n, T: T)
    }
    return nil
}

/// Every target in the range scored exactly once, windows within [lo, hi), none longer than T.
func checkPlan(_ plan: WindowPlan, n: Int, T: Int) -> String? {
    let lo = plan.tokenRange.lowerBound, hi = plan.tokenRange.upperBound
    guard lo >= 0, hi <= n, hi - lo >= 2, !plan.windows.isEmpty else { return "bad token range \(plan.tokenRange) of \(n)" }
    var next = lo + 1                                       // next target (position) to score
    for w in plan.windows {
        guard w.length >= 1, w.length <= T, w.start >= lo, w.start + w.length <= hi - 1,
              w.scoredFrom >= 0, w.scoredFrom < w.length else { return "bad window \(w) in \(plan.tokenRange), T \(T)" }
        guard w.start + w.scoredFrom + 1 == next else { return "window \(w) scores from \(w.start + w.scoredFrom + 1), expected \(next)" }
        next = w.start + w.length + 1
    }
    guard next == hi, plan.tokensScored == hi - lo - 1 else { return "plan scores up to \(next), range ends \(hi)" }
    return nil
}
