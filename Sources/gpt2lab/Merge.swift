import Analysis
import Engine
import ArgumentParser
import Foundation
import Plumbing

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Combine `score --shard K/N` or `eval --shard K/N` parts into the unsharded result.",
        discussion: """
        Refuses parts of different checkpoints, test sets or settings (by content hash), and missing or \
        duplicate shards. Per-window float64 sums are added in window order, so the merged loss equals \
        the unsharded `score` loss to the last bit (same --batch).

        Example:
          for k in 0 1 2; do gpt2lab score ckpt.safetensors --test-set tokens.bin --shard $k/3 --out part-$k.json; done
          gpt2lab merge part-*.json --out merged.json

        --out writes the JSON atomically and refuses to replace a part or any file that is not a merged result \
        (a shell redirect onto one of the parts, `> part-0.json`, empties it before merge reads it).

        Parts of `eval --shard K/N` merge the same way (told apart by their "kind" field): predictions are \
        concatenated in example order, so the merged output is the unsharded `eval`'s.
        """)

    @Argument(help: "Part files written by `score --shard K/N --out PART.json` (or all by `eval --shard`).")
    var parts: [String]

    @Flag(help: "Print JSON (the fields `score --json` prints, less `runtime` and `shape_source`, which describe the process that scored).")
    var json = false

    @Option(help: ArgumentHelp("Write the merged JSON (what --json prints) to this file, atomically; never over a part or a file that is not a merged result.",
                               valueName: "FILE.json"))
    var out: String?

    func validate() throws {
        if out != nil && json { throw ValidationError("--out writes the JSON; give --out or --json, not both") }
    }

    func run() throws {
        try runReporting {
            if let out { try checkMergeOutput(out, parts: parts) }
            let loaded = try parts.map { (path: $0, part: try readPart(path: $0)) }
            let merged = try mergeParts(loaded)
            if let out {
                let data: Data
                switch merged {
                case let .score(r): data = try JSON.encoder().encode(r)
                case let .eval(r): data = try JSON.encoder().encode(r)
                }
                try writeAtomically(data + Data("\n".utf8), to: out) { try checkMergeOutput($0, parts: parts) }
                printToStderr("gpt2lab: merged \(loaded.count) parts → \(out)\n")
                return
            }
            switch merged {
            case let .eval(r):
                if json { try printJSON(r) } else { printEvalSummary(r) }
            case let .score(r):
                if json { try printJSON(r); return }
                print(String(format: "loss        %.6f nats/token", r.loss))
                print(String(format: "perplexity  %.3f", r.perplexity))
                if let bpb = r.bitsPerByte { print(String(format: "bits/byte   %.6f", bpb)) }
                print("tokens      \(groupedThousands(r.tokensScored)) scored in \(r.windows) windows (context \(r.context), stride \(r.stride)), \(loaded.count) parts")
                if let p = r.precision, p != Precision.f32.rawValue { print("precision   \(p)") }
                if let d = r.device { print("device      \(d)") }
            }
        }
    }
}

/// `merge --out`: not one of the parts (by the file it names), and only over a previous merged result.
func checkMergeOutput(_ out: String, parts: [String]) throws {
    let target = URL(fileURLWithPath: out).resolvingSymlinksInPath().standardized.path
    if let part = parts.first(where: { URL(fileURLWithPath: $0).resolvingSymlinksInPath().standardized.path == target }) {
        throw CommandError("\(out): is the part \(part) being merged; write the merged result to another file")
    }
    try checkFileOutput(out, what: "merged result", isOurs: isMergedResult)
}

/// Whether `path` holds what merge (or `score --json`, `eval --json`) writes: a score or eval result, not a part.
func isMergedResult(_ path: String) -> Bool {
    guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)), partFormat(of: data) == nil else { return false }
    return (try? JSON.decoder().decode(ScoreReport.self, from: data)) != nil || (try? JSON.decoder().decode(EvalReport.self, from: data)) != nil
}
