import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Tokenizer

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Complete a prompt with a checkpoint: greedy, or temperature + top-k sampling.",
        discussion: """
        Decodes with a KV cache, one position per new token. Greedy is the default; giving --temperature or \
        --top-k switches to sampling (--top-k alone samples at temperature 1; --temperature alone samples from \
        the whole vocabulary). Greedy breaks ties towards the lowest id, as HF generate(do_sample=False) does.

        A completion stops after --max-tokens new tokens, after <|endoftext|> (kept as its last id, as HF \
        generate keeps the eos token), or when prompt + completion reach the model's context + 1 tokens (the \
        last one predicted from a full window, as HF generate stops; a note on stderr says when that cuts \
        --max-tokens). The context is not slid. Sample i of --count uses seed --seed + i, so the same seed gives \
        the same texts; greedy decoding draws nothing, so --seed and --count > 1 need sampling. With \
        --full-vocab the padded vocabulary's rows are sampled too, as nanoGPT samples them (they decode to \
        nothing printable).

        Examples:
          gpt2lab sample examples/runs/baseline/model.safetensors
          gpt2lab sample examples/runs/reference/model.safetensors --prompt "It was" --max-tokens 40 --json
          gpt2lab sample ckpt.safetensors --temperature 0.8 --top-k 40 --seed 7 --count 3
          gpt2lab sample model.weights.h5 --heads 4 --greedy
        """)

    @Argument(help: ArgumentHelp("Checkpoint: " + checkpointKinds + "."))
    var checkpoint: String

    @Option(help: "Text to complete; must encode to at most the model's context of tokens.")
    var prompt = "Every effort moves you"

    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "New tokens per completion, at most.")
    var maxTokens = 20

    @Flag(help: "Take the most likely token each step (the default unless --temperature or --top-k is given).")
    var greedy = false

    @Option(parsing: .unconditional, help: "Sampling temperature, > 0: logits are divided by it before the softmax.")
    var temperature: Double?

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Sample among the K most likely tokens only, K ≥ 1 (1 = greedy). Exactly K: a tie at the K-th logit goes to the lower token id (HF's TopKLogitsWarper keeps every tied token; f32 ties are rare).")
    var topK: Int?

    @Option(parsing: .unconditional, help: "Seed of the first sample (default 0); sample i uses seed + i. Sampling only.")
    var seed: UInt64?

    @Option(parsing: .unconditional, help: "Number of completions (more than 1: sampling only).")
    var count = 1

    @OptionGroup var model: HeadsOption

    @OptionGroup var vocab: VocabOption
    @OptionGroup var precisionOption: PrecisionOption

    @Flag(help: "Print one JSON object: prompt, prompt_ids, samples [{ids, text, seed (sampling), stop: end_of_text, max_tokens or context}], and ids/text/stop when --count is 1.")
    var json = false

    var mode: SamplingMode {
        temperature == nil && topK == nil ? .greedy : .sample(temperature: temperature ?? 1, topK: topK)
    }

    func validate() throws {
        if greedy && (temperature != nil || topK != nil) {
            throw ValidationError("--greedy cannot be combined with --temperature or --top-k")
        }
        if let temperature, !(temperature > 0 && temperature.isFinite) {
            throw ValidationError("--temperature must be a positive number")
        }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if mode.drawsNothing, seed != nil || count > 1 {
            throw ValidationError("--seed and --count > 1 need sampling (--temperature, or --top-k above 1): greedy decoding and --top-k 1 draw nothing, and their completions are all the same")
        }
        if let seed, UInt64(count - 1) > UInt64.max - seed {
            throw ValidationError("--seed \(seed) with --count \(count): sample i uses seed + i, past the largest seed \(UInt64.max)")
        }
        if prompt.isEmpty { throw ValidationError("--prompt must not be empty") }
    }

    func run() throws {
        try runReporting {
            let ck = try loadCheckpoint(path: checkpoint, heads: model.heads, vocab: vocab.rows, precision: precisionOption.precision)
            for w in ck.warnings { warn("\(checkpoint): \(w)") }
            let tokenizer = try GPT2Tokenizer.load()
            let model = GPT2Model(parameters: ck.parameters)
            let report = try sampleCompletions(model: model, tokenizer: tokenizer, checkpoint: checkpoint, prompt: prompt,
                                               mode: mode, maxTokens: maxTokens, seed: seed ?? 0, count: count)
            let room = contextRoom(promptTokens: report.promptIDs.count, context: ck.config.contextLength)
            if maxTokens > room {
                warn("--max-tokens \(maxTokens): after the \(report.promptIDs.count)-token prompt the model's context of "
                     + "\(ck.config.contextLength) leaves room for \(room) new token\(room == 1 ? "" : "s"); completions stop there")
            }
            if json {
                try printJSON(report)
            } else if report.samples.count == 1 {
                print(report.samples[0].text)
            } else {
                for (i, s) in report.samples.enumerated() {
                    print("--- sample \(i + 1) (seed \(s.seed.map(String.init) ?? "-"))")
                    print(s.text)
                }
            }
        }
    }
}
