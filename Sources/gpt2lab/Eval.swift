import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing
import TestSets
import Tokenizer

extension EvalTask: ExpressibleByArgument {}
extension HellaSwagRecipe: ExpressibleByArgument {}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "HellaSwag or LAMBADA accuracy of a checkpoint, as GPT-2 reproductions publish them.",
        discussion: """
        HellaSwag (--task hellaswag, the published hellaswag_val.jsonl) in two recipes: llmc (llm.c / build-nanogpt: \
        context = ctx, endings scored as " " + ending; acc by summed NLL, acc_norm by mean NLL per token) and \
        lm-eval (lm-evaluation-harness: "activity_label: ctx_a Ctx_b" with its bracket clean-up; acc_norm divides \
        the loglikelihood by the ending's length in characters). LAMBADA (--task lambada, lambada_openai's \
        {"text": …} lines): the last word is the target; acc = greedy decoding reproduces all its tokens, ppl = \
        exp(−mean loglikelihood). Contexts longer than the model's are cut from the left.

        Examples:
          gpt2lab eval examples/runs/reference/model.safetensors --task hellaswag --data hellaswag_val.jsonl
          gpt2lab eval ckpt.safetensors --task hellaswag --recipe lm-eval --data hellaswag_val.jsonl --limit 500 --json
          gpt2lab eval ckpt.safetensors --task lambada --data lambada_test.jsonl --shard 0/4 --out part-0.json
          gpt2lab merge part-*.json --json
        """)

    @Argument(help: ArgumentHelp("Checkpoint: " + checkpointKinds + "."))
    var checkpoint: String

    @Option(help: "hellaswag or lambada.")
    var task: EvalTask

    @Option(help: "The benchmark's JSONL file.")
    var data: String

    @Option(help: "HellaSwag recipe: llmc (default) or lm-eval. LAMBADA has lm-eval's only.")
    var recipe: HellaSwagRecipe?

    @Option(parsing: .unconditional, help: "Score only the first N examples of the file.")
    var limit: Int?

    @OptionGroup var threadsOption: ThreadsOption
    @OptionGroup var deviceOption: DeviceOption
    @OptionGroup var gpuMath: GPUMathOption
    var threads: Int? { threadsOption.threads }

    @OptionGroup var model: HeadsOption

    @Flag(help: "Print JSON: task, recipe, examples, acc, acc_stderr, acc_norm (HellaSwag), ppl (LAMBADA), predictions.")
    var json = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Score only shard K of N of the examples (K from 0); needs --out.", valueName: "K/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Where --shard writes its part (JSON, atomically); combine with `gpt2lab merge`.", valueName: "PART.json"))
    var out: String?

    var shardSpec: (Int, Int)? { parseShard(shard) }

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let recipe, !task.info.recipes.contains(recipe.rawValue) {
            throw ValidationError("--recipe \(recipe.rawValue) is not one of \(task.info.displayName)'s (\(task.info.recipes.joined(separator: ", ")))")
        }
        try validateShard(shard, out: out, whole: "a whole eval")
    }

    func run() throws {
        try runReporting {
            if let out { try checkPartOutput(out) }
            // A part names its data by the hash of the bytes read (taken only for a part).
            let read = { try loadEvalExamples(task: task, recipe: recipe ?? .llmc, path: data, limit: limit) }
            let (dataHash, examples) = shardSpec == nil ? ("", try read()) : try hashedFile(path: data, read)
            // A part names its checkpoint by the hash of the bytes loaded (taken only for a part).
            let heads = model.heads, path = checkpoint
            let (hash, ck) = shardSpec == nil ? ("", try loadCheckpoint(path: path, heads: heads))
                : try hashedCheckpoint(path: path) { try loadCheckpoint(path: path, heads: heads) }
            for w in ck.warnings { warn("\(checkpoint): \(w)") }
            guard ck.weights.config.softmaxVocab == gpt2VocabSize else {
                throw EvalTaskError(path: checkpoint, "vocabulary of \(ck.weights.config.vocabSize) tokens is smaller than GPT-2's \(gpt2VocabSize)")
            }
            let range = shardSpec.map { shardRange(shard: $0.0, of: $0.1, units: examples.count) }
            let model = GPT2Model(weights: ck.weights, backend: CPUBackend(threads: threads))
            let gpu = try openDevice(deviceOption.device, parameters: ck.parameters, math: gpuMath.math)
            let bar = ProgressBar(shardSpec.map { "\(task.rawValue) \($0.0)/\($0.1)" } ?? task.rawValue, unit: "ex")
            let t0 = Date()
            let predictions = try evaluateExamples(model: model, gpu: gpu, tokenizer: try GPT2Tokenizer.load(), examples, path: data,
                                                   range: range, progress: bar.update)
            bar.finish()
            var report = EvalReport(task: task, recipe: examples.recipe, data: data, checkpoint: checkpoint, layout: ck.layout.rawValue,
                                    context: ck.weights.config.contextLength, seconds: Date().timeIntervalSince(t0),
                                    predictions: predictions)
            report.device = gpu?.info.scoreKeyName
            if let (k, n) = shardSpec, let out, let range {
                let body = EvalShard(checkpointHash: hash, dataHash: dataHash,
                                     heads: ck.config.nHead, report: report)
                try writePart(ShardPart(shard: k, shards: n, total: examples.count, start: range.lowerBound, body: body), to: out)
                return
            }
            if json { try printJSON(report) } else { printEvalSummary(report) }
        }
    }
}

/// " ± stderr", or why there is none (one example has no sample standard deviation).
private func stderrText(_ se: Double?) -> String {
    se.map { String(format: " ± %.4f", $0) } ?? "   (no stderr: one example)"
}

/// The human-readable lines of an eval (also `merge`'s).
func printEvalSummary(_ r: EvalReport) {
    print("task        \(r.task.rawValue) (recipe \(r.recipe)), \(r.examples) examples")
    if let d = r.device { print("device      \(d)") }
    print(String(format: "acc         %.4f", r.acc) + stderrText(r.accStderr))
    if let n = r.accNorm { print(String(format: "acc_norm    %.4f", n) + stderrText(r.accNormStderr)) }
    if let p = r.ppl { print(String(format: "ppl         %.3f", p)) }
}
