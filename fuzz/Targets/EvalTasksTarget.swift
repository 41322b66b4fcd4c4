// Target (f): the benchmark readers (HellaSwag and LAMBADA JSONL) and the recipes' text rules. The first
// byte picks HellaSwag for llmc, HellaSwag for lm-eval, or LAMBADA; the rest is the file, parsed from bytes.
// Invariants: every accepted item has a label indexing its ≥ 2 endings; a query has one continuation per
// ending, each starting with the space; lm-eval's clean-up leaves no "[…]" span within a line; a LAMBADA
// context + target is the text again, the target one space-free word after its space.

import Foundation
import TestSets

public func fuzzEvalTasks(_ input: UnsafeRawBufferPointer) -> String? {
    var r = ByteReader(input)
    let mode = r.u8() % 3
    let bytes = [UInt8](r.rest())
    if mode < 2 {
        let recipe: HellaSwagRecipe = mode == 0 ? .llmc : .lmEval
        guard let items = try? parseHellaSwag(bytes, path: "input.jsonl", recipe: recipe) else { return nil }
        for item in items {
            guard item.endings.count >= 2, item.endings.indices.contains(item.label) else { return "line \(item.line): label \(item.label) of \(item.endings.count) endings" }
            let q = hellaswagQuery(item, recipe: recipe)
            guard q.continuations.count == item.endings.count, q.continuations.allSatisfy({ $0.unicodeScalars.first == " " }),
                  q.gold == item.label else {
                return "line \(item.line): query does not match the item"
            }
            if recipe == .lmEval {
                for text in [q.context] + q.continuations {
                    if let broken = bracketSpan(text) { return "line \(item.line): preprocess left a bracket span \(broken.debugDescription)" }
                }
                guard q.characterLengths?.count == item.endings.count else { return "line \(item.line): lengths missing" }
            }
        }
    } else {
        guard let items = try? parseLambada(bytes, path: "input.jsonl") else { return nil }
        for item in items {
            // Code points throughout: Python's split(' ') sees a space even before a combining mark.
            let (context, target) = lambadaQuery(item)
            let t = Array(target.unicodeScalars), text = Array(item.text.unicodeScalars)
            guard t.first == " ", !t.dropFirst().contains(" ") else { return "line \(item.line): target \(target.debugDescription)" }
            let back = text.contains(" ") ? Array(context.unicodeScalars) + t : Array(t.dropFirst())
            guard back == text, text.contains(" ") || context.isEmpty else { return "line \(item.line): context + target is not the text" }
        }
    }
    return nil
}

/// A "[" followed by a "]" on the same line (what lm-eval's `\[.*?\]` would still remove), or nil.
private func bracketSpan(_ s: String) -> String? {
    var open: Int?
    for (i, c) in s.unicodeScalars.enumerated() {
        if c == "\n" { open = nil } else if c == "[" { open = open ?? i } else if c == "]", let o = open {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: Array(s.unicodeScalars)[o...i])
            return String(v)
        }
    }
    return nil
}
