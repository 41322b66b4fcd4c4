import Analysis
import ArgumentParser
import Checkpoints
import Foundation
import Plumbing
import TestSets

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test loss, perplexity (and bits per byte for text) of checkpoints on a test set.",
        discussion: """
        Windows follow HF's strided recipe: window k starts at k·stride, holds up to --context inputs, and \
        scores only targets no earlier window scored, so every token after the first is scored once. Text test sets (.txt, .jsonl) are tokenized with GPT-2's BPE and also report bits per byte: total NLL / ln 2 / UTF-8 bytes of the text (without the <|endoftext|> markers).

        Examples:
          gpt2lab score examples/runs/baseline/model.safetensors --test-set examples/test-persuasion.bin
          gpt2lab score ckpt.safetensors --test-set tokens.safetensors --skip 50000000 --max-tokens 1000000 --json
          gpt2lab score examples/runs/baseline/model.safetensors --test-set examples/test-persuasion.txt
          gpt2lab score examples/runs/*/model.safetensors --test-set examples/test-persuasion.bin
        """)

    @Argument(help: "Checkpoint file(s); several print a table.")
    var checkpoints: [String]

    @OptionGroup var data: TestSetOptions

    @Option(help: "Distance between window starts, 1...T (default T: disjoint windows).")
    var stride: Int?

    @Option(help: "Drop the first N tokens.")
    var skip: Int = 0

    @Option(name: .customLong("max-tokens"), help: "After --skip, use only the next N tokens.")
    var maxTokens: Int?

    @Option(help: "Windows per forward pass (default: about 1024 positions).")
    var batch: Int?

    @OptionGroup var model: HeadsOption

    @Flag(help: "Print JSON (one object, or an array for several checkpoints).")
    var json = false

    @Option(help: ArgumentHelp("Score only shard K of N (K from 0, as Slurm array / Kubernetes completion indices count); needs --out.",
                               valueName: "K/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Where --shard writes its partial result (JSON, written atomically); combine parts with `gpt2lab merge`.",
                               valueName: "PART.json"))
    var out: String?

    /// (k, n) from "K/N".
    var shardSpec: (Int, Int)? { parseShard(shard) }

    func validate() throws {
        if checkpoints.isEmpty { throw ValidationError("give at least one checkpoint") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if skip < 0 { throw ValidationError("--skip must be non-negative") }
        try validateShard(shard, out: out, whole: "a whole score")
        if shard != nil, checkpoints.count != 1 { throw ValidationError("--shard scores one checkpoint") }
    }

    /// Scores one shard and writes its part file.
    func runShard(k: Int, n: Int, tokens: TokenFile) throws {
        let path = checkpoints[0]
        let ck = try loadCheckpoint(path: path, heads: model.heads)
        for w in ck.warnings { warn("\(path): \(w)") }
        let T = data.context ?? ck.weights.config.contextLength
        let plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: stride ?? T, skip: skip, maxTokens: maxTokens)
        let B = batch ?? defaultBatch(context: T)
        let range = shardWindowRange(shard: k, of: n, windows: plan.windows.count, batch: B)
        let bar = ProgressBar("shard \(k)/\(n)")
        let (report, scores, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: data.testSet, context: T, stride: stride,
                                                      skip: skip, maxTokens: maxTokens, batch: B, threads: data.threads,
                                                      windowRange: range, progress: bar.update)
        bar.finish()
        let key = ScoreKey(checkpointHash: try fileContentHash(path: path), testSetHash: tokens.contentHash,
                           settings: ScoreSettings(context: T, stride: plan.stride, skip: skip, maxTokens: maxTokens))
        let part = ScorePart(shard: k, shards: n, checkpoint: path, layout: ck.layout.rawValue, testSet: data.testSet, key: key,
                             utf8Bytes: (skip == 0 && maxTokens == nil) ? tokens.utf8Bytes : nil, batch: B, totalWindows: plan.windows.count, windowStart: range.lowerBound, scores: scores,
                             threads: report.threads, seconds: report.seconds)
        try writeAtomically(try JSON.encoder().encode(part), to: out!)
        FileHandle.standardError.write(Data("gpt2lab: shard \(k)/\(n): windows \(range.lowerBound)..<\(range.upperBound) of \(plan.windows.count) → \(out!)\n".utf8))
    }

    func run() throws {
        try runReporting {
            let tokens = try loadTokenIDs(path: data.testSet, dataset: data.dataset)
            if let (k, n) = shardSpec { try runShard(k: k, n: n, tokens: tokens); return }
            var reports: [ScoreReport] = []
            for path in checkpoints {
                let ck = try loadCheckpoint(path: path, heads: model.heads)
                for w in ck.warnings { warn("\(path): \(w)") }
                let bar = ProgressBar(checkpoints.count > 1 ? (path as NSString).deletingLastPathComponent : "scoring")
                let (report, _, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: data.testSet, context: data.context,
                                                         stride: stride, skip: skip, maxTokens: maxTokens, batch: batch,
                                                         threads: data.threads, progress: bar.update)
                bar.finish()
                reports.append(report)
            }
            if json {
                if reports.count == 1 { try printJSON(reports[0]) } else { try printJSON(reports) }
            } else if reports.count == 1 {
                let r = reports[0]
                print(String(format: "loss        %.6f nats/token", r.loss))
                print(String(format: "perplexity  %.3f", r.perplexity))
                if let bpb = r.bitsPerByte { print(String(format: "bits/byte   %.6f", bpb)) }
                print("tokens      \(groupedThousands(r.tokensScored)) scored in \(r.windows) windows (context \(r.context), stride \(r.stride))")
                print(String(format: "speed       %.0f tokens/s (%.2f s, %d threads)", r.tokensPerSecond, r.seconds, r.threads))
            } else {
                let w = max(10, reports.map { $0.checkpoint.count }.max() ?? 10)
                print("checkpoint".padding(toLength: w, withPad: " ", startingAt: 0) + "      loss  perplexity     tokens    tok/s")
                for r in reports {
                    print(r.checkpoint.padding(toLength: w, withPad: " ", startingAt: 0)
                          + String(format: " %9.4f %11.2f %10d %8.0f", r.loss, r.perplexity, r.tokensScored, r.tokensPerSecond))
                }
            }
        }
    }
}
