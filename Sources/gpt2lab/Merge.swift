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
          gpt2lab merge part-*.json --json

        Parts of `eval --shard K/N` merge the same way (told apart by their "kind" field): predictions are \
        concatenated in example order, so the merged output is the unsharded `eval`'s.
        """)

    @Argument(help: "Part files written by `score --shard K/N --out PART.json` (or all by `eval --shard`).")
    var parts: [String]

    @Flag(help: "Print JSON (the fields `score --json` prints, less `runtime` and `shape_source`, which describe the process that scored).")
    var json = false

    func run() throws {
        try runReporting {
            let loaded = try parts.map { (path: $0, part: try readPart(path: $0)) }
            switch try mergeParts(loaded) {
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
