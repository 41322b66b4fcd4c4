import Foundation
import XCTest

/// The README and docs/ stay true to the binary: every `gpt2lab SUBCOMMAND … --flag` they show in code (fenced
/// blocks and inline spans) names a flag that subcommand's `--help` lists, and every relative link they make
/// reaches a file. A renamed or removed option fails here instead of in a user's pasted command.
extension CLITests {
    static let documents = ["README.md"] + ((try? FileManager.default.contentsOfDirectory(
        atPath: packageRoot.appendingPathComponent("docs").path)) ?? []).filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }

    /// The code a Markdown page shows: its fenced blocks (continuation lines joined) and its inline spans.
    static func codeSpans(_ page: String) -> [String] {
        let fenced = matches(#"```[\s\S]*?```"#, in: page)
        var prose = page
        for f in fenced { prose = prose.replacingOccurrences(of: f, with: "") }
        return (fenced + matches(#"`[^`\n]+`"#, in: prose)).map { $0.replacingOccurrences(of: "\\\n", with: " ") }
    }

    static func matches(_ pattern: String, in text: String, group: Int = 0) -> [String] {
        let re = try! NSRegularExpression(pattern: pattern)
        return re.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: group), in: text).map { String(text[$0]) }
        }
    }

    static func flags(_ text: String) -> [String] { matches(#"(?<![\w-])--[a-z][a-z0-9-]*"#, in: text) }

    func testDocumentedCommandsUseFlagsTheirHelpLists() throws {
        let root = try gpt2lab(["--help"])
        XCTAssertEqual(root.status, 0, root.err)
        let subcommands = Set(Self.matches(#"(?m)^  ([a-z]+) "#, in: root.out, group: 1))
        XCTAssertTrue(subcommands.isSuperset(of: ["score", "compare", "report", "hessian", "doctor"]), root.out)
        var helps: [String: Set<String>] = [:], checked = 0
        for doc in Self.documents {
            let page = try String(contentsOf: Self.packageRoot.appendingPathComponent(doc), encoding: .utf8)
            for code in Self.codeSpans(page) {
                for call in Self.matches(#"\bgpt2lab +[a-z]+[^|#&;\n]*"#, in: code) {
                    let words = call.split(separator: " ", omittingEmptySubsequences: true)
                    let sub = String(words[1])
                    guard subcommands.contains(sub) else { continue }   // "gpt2lab can read …", a script's path
                    if helps[sub] == nil {
                        let h = try gpt2lab([sub, "--help"])
                        XCTAssertEqual(h.status, 0, "\(sub) --help: \(h.err)")
                        helps[sub] = Set(Self.flags(h.out))
                    }
                    for flag in Self.flags(call) {
                        checked += 1
                        XCTAssertTrue(helps[sub]!.contains(flag), "\(doc) shows `gpt2lab \(sub) … \(flag)`, which `gpt2lab \(sub) --help` does not list: \(call)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 50, "the docs' commands were not found")
    }

    func testDocumentedRelativeLinksResolve() throws {
        var checked = 0
        for doc in Self.documents {
            let url = Self.packageRoot.appendingPathComponent(doc)
            let page = try String(contentsOf: url, encoding: .utf8)
            for target in Self.matches(#"\]\(([^)#\s]+)(?:#[^)]*)?\)"#, in: page, group: 1) where !target.contains("://") && !target.hasPrefix("mailto:") {
                checked += 1
                let path = url.deletingLastPathComponent().appendingPathComponent(target).standardizedFileURL.path
                XCTAssertTrue(FileManager.default.fileExists(atPath: path), "\(doc) links to \(target), which is not there")
            }
        }
        XCTAssertGreaterThan(checked, 10, "the docs' links were not found")
    }
}
