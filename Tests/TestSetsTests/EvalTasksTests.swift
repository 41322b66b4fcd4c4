import Foundation
import XCTest
@testable import TestSets

/// The benchmark readers and the recipes' text rules. Expected strings were printed by Python 3 running
/// lm-eval's `preprocess` and `str.capitalize` (bench/evals/hf_evals.py holds the same `preprocess`).
final class EvalTasksTests: XCTestCase {
    func testLMEvalPreprocessMatchesPython() {
        let cases: [(String, String)] = [
            ("  [header] How to read [title] Begin now.  ", " How to read. Begin now."),
            ("a [b [c] d] e", "a d] e"),
            ("x [unclosed to the end", "x [unclosed to the end"),
            ("one   three    four", "one  three  four"),
            ("]odd[ brackets", "]odd[ brackets"),
            ("line [one\ntwo] three", "line [one\ntwo] three"),
            ("\u{3000}wide space\u{1c}", "wide space"),
            ("[title] at start", " at start"),
            ("tab\t[x]\tafter", "tab\t\tafter"),
            ("ünïcode [ß] done", "ünïcode done"),
        ]
        for (input, want) in cases { XCTAssertEqual(lmEvalPreprocess(input), want, input.debugDescription) }
    }

    func testCapitalizeMatchesPython() {
        let cases: [(String, String)] = [("hello WORLD", "Hello world"), ("\u{1c6}emal", "\u{1c5}emal"), ("ßtraße", "Sstraße"),
                                         ("", ""), ("1abc", "1abc"), ("éCOLE", "École"),
                                         // CPython's Final_Sigma rule (a case-ignorable mark or apostrophe skipped).
                                         ("ΟΔΟΣ ΑΣ text", "Οδος ας text"), ("aΣ'Σ.", "Aσ'ς."), ("Σ", "Σ"),
                                         ("ΑΣ\u{301}", "Ας\u{301}"), ("ΑΣ\u{301}Β", "Ασ\u{301}β")]
        for (input, want) in cases { XCTAssertEqual(pythonCapitalize(input), want, input.debugDescription) }
    }

    func testQueries() {
        let item = HellaSwagItem(line: 1, ctx: "A man sits. he", ctxA: "A man sits.", ctxB: "he", activityLabel: "Sitting [title]",
                                 endings: ["stands [step] up.", "sits."], label: 1)
        let llmc = hellaswagQuery(item, recipe: .llmc)
        XCTAssertEqual(llmc.context, "A man sits. he")
        XCTAssertEqual(llmc.continuations, [" stands [step] up.", " sits."])
        XCTAssertNil(llmc.characterLengths)
        let lm = hellaswagQuery(item, recipe: .lmEval)
        // preprocess("Sitting [title]: A man sits. He"): " [title]" → ". ", so "Sitting. : A man sits. He".
        XCTAssertEqual(lm.context, "Sitting. : A man sits. He")
        XCTAssertEqual(lm.continuations, [" stands up.", " sits."])
        XCTAssertEqual(lm.characterLengths, [10, 5])
        XCTAssertEqual(lm.gold, 1)
        var noCtx = item
        noCtx.ctx = nil
        XCTAssertEqual(hellaswagQuery(noCtx, recipe: .llmc).context, "A man sits. he")
        noCtx.ctxB = ""
        XCTAssertEqual(hellaswagQuery(noCtx, recipe: .llmc).context, "A man sits.")
        // lambada_openai splits on " " only: a double space leaves an empty word in the context.
        let (c, t) = lambadaQuery(LambadaItem(line: 1, text: "she said  to\tAnne"))
        XCTAssertEqual(c, "she said ")
        XCTAssertEqual(t, " to\tAnne")
        XCTAssertEqual(lambadaQuery(LambadaItem(line: 1, text: "Anne")).context, "")
        // A space before a combining mark is one Swift Character, but Python's split(' ') splits there
        // ("a \u0300b".split(" ") == ["a", "\u0300b"]); found by the evals fuzz target.
        let (c2, t2) = lambadaQuery(LambadaItem(line: 1, text: "caf\u{15e9} \u{300}Binar"))
        XCTAssertEqual(Array(c2.unicodeScalars), Array("caf\u{15e9}".unicodeScalars))
        XCTAssertEqual(Array(t2.unicodeScalars), Array(" \u{300}Binar".unicodeScalars))
    }

    /// A raw U+FEFF opening a string value is kept (Foundation on Linux dropped it, so a LAMBADA text that began
    /// with one was scored without it); a byte-order mark before the first line is still skipped.
    func testRawZeroWidthNoBreakSpaceIsKept() throws {
        let bom = "\u{FEFF}"
        let text = bom + "{\"text\": \"" + bom + "Anne " + bom + "said\"}\n{\"text\": \"" + bom + "x y\"}"
        let items = try parseLambada(Array(text.utf8), path: "l.jsonl")
        XCTAssertEqual(items.map { Array($0.text.unicodeScalars).map(\.value) },
                       [[0xFEFF, 0x41, 0x6E, 0x6E, 0x65, 0x20, 0xFEFF, 0x73, 0x61, 0x69, 0x64], [0xFEFF, 0x78, 0x20, 0x79]])
    }

    func testReadsLabelsAndSkipsBlankLines() throws {
        let text = """
            {"ctx": "c", "endings": ["a", "b", "c", "d"], "label": 3}

            {"ctx": "c", "endings": ["a", "b", "c", "d"], "label": "2"}
            """
        let items = try parseHellaSwag(Array(text.utf8), path: "h.jsonl", recipe: .llmc)
        XCTAssertEqual(items.map(\.label), [3, 2])
        XCTAssertEqual(items.map(\.line), [1, 3])
    }

    /// Each malformed line is one error naming the file, the line and what is wrong.
    func testMalformedLinesAreNamed() {
        func hs(_ lines: [String], _ recipe: HellaSwagRecipe = .llmc) -> String {
            do { _ = try parseHellaSwag(Array(lines.joined(separator: "\n").utf8), path: "h.jsonl", recipe: recipe); return "accepted" } catch {
                return (error as? LocalizedError)?.errorDescription ?? "\(error)"
            }
        }
        let good = #"{"ctx": "c", "ctx_a": "c", "ctx_b": "", "activity_label": "x", "endings": ["a", "b", "c", "d"], "label": 0}"#
        XCTAssertEqual(hs([good, #"{"ctx": "c", "label": 0}"#]), #"h.jsonl:2: missing "endings""#)
        XCTAssertEqual(hs([good, good, #"{"endings": ["a", "b"], "label": 0}"#]), #"h.jsonl:3: missing "ctx" (or "ctx_a"/"ctx_b")"#)
        XCTAssertEqual(hs([#"{"ctx": "c", "endings": ["a", "b"], "label": 0}"#], .lmEval), #"h.jsonl:1: missing "ctx_a""#)
        XCTAssertEqual(hs([#"{"ctx": "c", "endings": ["a", 1], "label": 0}"#]), #"h.jsonl:1: "endings" must be an array of strings"#)
        XCTAssertEqual(hs([#"{"ctx": "c", "endings": ["a"], "label": 0}"#]), #"h.jsonl:1: "endings" has 1 ending(s); a choice needs at least 2"#)
        XCTAssertEqual(hs([#"{"ctx": "c", "endings": ["a", "b"], "label": 2}"#]), #"h.jsonl:1: "label" 2 is not an index of the 2 endings"#)
        XCTAssertTrue(hs([#"{"ctx": "c", "endings": ["a", "b"], "label": true}"#]).hasPrefix(#"h.jsonl:1: "label" must be an integer"#))
        XCTAssertTrue(hs([#"{"ctx": "c", "endings": ["a", "b"], "label": 1.5}"#]).hasPrefix(#"h.jsonl:1: "label" must be an integer"#))
        XCTAssertEqual(hs([#"{"ctx": "c", "endings": ["a", "b"]}"#]), #"h.jsonl:1: missing "label""#)
        XCTAssertEqual(hs([#"{"ctx": 3, "endings": ["a", "b"], "label": 0}"#]), #"h.jsonl:1: "ctx" must be a string"#)
        XCTAssertTrue(hs([good, "{not json"]).hasPrefix("h.jsonl:2: not valid JSON ("))
        XCTAssertEqual(hs(["[1, 2]"]), "h.jsonl:1: not a JSON object")
        XCTAssertEqual(hs(["", "  "]), "h.jsonl: no examples (the file has no JSON lines)")

        func lb(_ text: String) -> String {
            do { _ = try parseLambada(Array(text.utf8), path: "l.jsonl"); return "accepted" } catch {
                return (error as? LocalizedError)?.errorDescription ?? "\(error)"
            }
        }
        XCTAssertEqual(lb(#"{"text": "a b"}"# + "\n" + #"{"txt": "a"}"#), #"l.jsonl:2: missing "text""#)
        XCTAssertEqual(lb(#"{"text": ""}"#), #"l.jsonl:1: "text" is empty"#)
        XCTAssertEqual(lb(#"{"text": "ends with "}"#), #"l.jsonl:1: "text" ends with a space: no last word to predict"#)
        XCTAssertEqual(lb(#"{"text": 5}"#), #"l.jsonl:1: "text" must be a string"#)
        XCTAssertEqual(lb(#"{"text": "fine"}"#), "accepted")
    }

    func testMissingFileIsNamed() {
        XCTAssertThrowsError(try readLambada(path: "/nonexistent/l.jsonl")) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription, "/nonexistent/l.jsonl: no such file")
        }
    }
}
