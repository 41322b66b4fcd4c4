import Analysis
import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Plumbing

extension Precision: ExpressibleByArgument {}
extension ComputeDevice: ExpressibleByArgument {}

/// `--device`, for `score`, `compare`, `interpolate`, `eval`, `hessian` and `report`: where the model runs.
struct DeviceOption: ParsableArguments {
    @Option(help: ArgumentHelp("Where the forward runs: cpu, cuda (GPU 0), cuda:N, or auto (GPU 0 when there is one, else the CPU; a GPU that is there but refuses stops the run). cuda needs an NVIDIA driver, NVRTC and cuBLAS (`gpt2lab doctor` says what it finds); without them it stops with one line saying what is missing.",
                               valueName: "auto|cpu|cuda[:N]"))
    var device: ComputeDevice = .cpu
}

/// `--gpu-math`: how f32 products run on a GPU (`score`, `eval`, `compare`, `interpolate`, `report`).
struct GPUMathOption: ParsableArguments {
    @Option(name: .customLong("gpu-math"),
            help: ArgumentHelp("How f32 products run on a GPU: 3xtf32 (default: each product as three TF32 tensor-core products of hi/lo splits, rounding of f32's order), f32 (cuBLAS FP32 on the CUDA cores), or tf32 (one TF32 product, 10-bit mantissas: faster, ~1e-3 relative error per product). No effect on the CPU, nor on bf16 products (--precision bf16, where the verb has it).",
                               valueName: "3xtf32|f32|tf32"))
    var math: GPUMath = .default
}

extension GPUMath: ExpressibleByArgument {}

/// `--precision`, for the commands that run the forward only: `score`, `sample`, `report`.
struct PrecisionOption: ParsableArguments {
    @Option(help: ArgumentHelp("Precision of the matrix products: f32, or bf16 (weights held in bf16, half the memory; inputs rounded to bf16, sums in f32; LayerNorm, attention, softmax and the loss stay f32).",
                               valueName: "f32|bf16"))
    var precision: Precision = .f32

    func validate() throws {
        if precision == .bf16, let note = bf16SpeedNotice() { printToStderr((note + "\n")) }
    }
}

/// The checkpoints every command reads (Checkpoints' formats), for the help texts.
let checkpointKinds = "safetensors (one file, or sharded with its index), torch zip (.pt, .pth, pytorch_model.bin), llm.c model.bin, HDF5 (.h5), or an HF save_pretrained folder of these with its config.json"

/// `--heads`, for every command that loads a checkpoint (the checkpoint loader checks it against
/// what the file and its folder state).
struct HeadsOption: ParsableArguments {
    @Option(parsing: .unconditional,
            help: "Attention heads, for a checkpoint whose file and folder state none (default: the checkpoint's config, config.json or meta.json beside it; GPT-2's own sizes use heads of width 64).")
    var heads: Int?
}

/// `--threads`, for every command that runs the engine. Parsed unconditionally, so `--threads -2`
/// reaches the check below instead of reading as a flag.
struct ThreadsOption: ParsableArguments {
    @Option(parsing: .unconditional, help: "Threads (default: every CPU this process may run on, as taskset, Slurm or a cgroup cpuset allow).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be a positive whole number (got \(threads))") }
    }
}

/// `--full-vocab`, for the commands that softmax over the vocabulary: `score`, `sample`, `hessian`.
struct VocabOption: ParsableArguments {
    @Flag(name: .customLong("full-vocab"),
          help: "Softmax over every stored vocabulary row, padding included, as nanoGPT's own eval does (default: a vocabulary padded past GPT-2's 50257 rows, e.g. 50304, is scored over those 50257, as HF scores the cropped model).")
    var fullVocab = false

    var rows: VocabRows { fullVocab ? .all : .tokenizer }
}

/// What a score says about its softmax: "50257 of 50304 stored rows (GPT-2's tokenizer)".
func describeVocabRows(softmaxed: Int, stored: Int) -> String {
    softmaxed == stored ? "all \(stored) rows" : "\(softmaxed) of \(stored) stored rows (GPT-2's tokenizer; --full-vocab for all)"
}

/// The test set a checkpoint runs on, its window length and the engine's threads: `score`
/// and `hessian`.
struct TestSetOptions: ParsableArguments {
    @Option(name: .customLong("test-set"),
            help: "Token ids (uint16 .bin, safetensors `tokens`, HDF5 with --dataset) or text (.txt, .jsonl), tokenized.")
    var testSet: String

    @Option(help: "HDF5 dataset / safetensors tensor holding the ids.")
    var dataset: String?

    @Option(parsing: .unconditional, help: "Window length T (default: the model's context length).")
    var context: Int?

    @OptionGroup var threadsOption: ThreadsOption
    var threads: Int? { threadsOption.threads }

    func validate() throws {
        if let context, context < 1 { throw ValidationError("--context must be at least 1 (got \(context))") }
    }
}

/// Which windows of the test set are scored, and how many per forward: `score` and `compare`.
struct WindowOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Distance between window starts, 1...T (default T: disjoint windows).")
    var stride: Int?

    @Option(parsing: .unconditional, help: "Drop the first N tokens.")
    var skip: Int = 0

    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "After --skip, use only the next N tokens.")
    var maxTokens: Int?

    @Option(parsing: .unconditional, help: "Windows per forward pass (default: about 1024 positions on the CPU, 32768 on a GPU).")
    var batch: Int?

    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1 (got \(batch))") }
        if skip < 0 { throw ValidationError("--skip must be non-negative (got \(skip))") }
    }
}

/// (k, n) from `--shard K/N`, nil when absent or malformed.
func parseShard(_ shard: String?) -> (Int, Int)? {
    guard let shard else { return nil }
    let f = shard.split(separator: "/")
    guard f.count == 2, let k = Int(f[0]), let n = Int(f[1]) else { return nil }
    return (k, n)
}

/// `--shard K/N` needs 0 ≤ K < N and `--out`; `--out` is only for `--shard`. `whole` names what to do instead.
func validateShard(_ shard: String?, out: String?, whole: String) throws {
    if let shard {
        guard let (k, n) = parseShard(shard), n >= 1, (0..<n).contains(k) else {
            throw ValidationError("--shard takes K/N with 0 ≤ K < N, e.g. --shard 0/4; got \(shard)")
        }
        guard n <= maxShards else { throw ValidationError("--shard: at most \(maxShards) shards (got N = \(n))") }
        if out == nil { throw ValidationError("--shard needs --out PART.json") }
    } else if out != nil {
        throw ValidationError("--out is for --shard; use --json and a redirect for \(whole)")
    }
}

/// `--scale` and `--steps` of the verbs that chart checkpoints (norms, spectra).
struct StepChartOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "PNG pixel density (2 = twice the pixels).")
    var scale: Double = 2

    @Option(help: "Training step of each checkpoint, comma-separated, in argument order (default: from `step-N` names).")
    var steps: String?

    /// Checks both for `count` checkpoints.
    func check(count: Int) throws {
        if !(scale > 0 && scale <= 8) { throw ValidationError("--scale must be in (0, 8]") }
        _ = try parsedSteps(count: count)
    }

    /// `--steps 571,1143,…`: one non-negative training step per checkpoint, in argument order (nil: none given).
    func parsedSteps(count: Int) throws -> [Int?]? {
        guard let steps else { return nil }
        let parts = steps.split(separator: ",", omittingEmptySubsequences: false)
        let values = parts.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard values.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw ValidationError("--steps must be non-negative integers separated by commas, got '\(steps)'")
        }
        guard values.count == count else {
            throw ValidationError("--steps has \(values.count) values for \(count) checkpoints")
        }
        if let twice = values.compactMap({ $0 }).duplicates.first {
            throw ValidationError("--steps gives step \(twice) twice: a steps chart has one checkpoint per step")
        }
        return values
    }

    /// Each checkpoint's training step for the FILE-steps.png chart (`--steps`, else `step-N` in the names), or
    /// nil when no steps chart is drawn; `notes` say what was left out and why, to be warned. Steps from names
    /// must be one run's: checkpoints in one folder (file names `run/step-N.…`, or folders `run/step-N/`). A
    /// checkpoint without a step beside stepped ones is named, not silently dropped.
    func chartSteps(paths: [String]) throws -> (steps: [Int?]?, notes: [String]) {
        if let given = try parsedSteps(count: paths.count) { return (given, []) }
        let named = paths.map(trainingStep(fromPath:))
        let stepped = zip(paths, named).filter { $0.1 != nil }
        guard stepped.count >= 2 else { return (nil, []) }
        let runFolders = Set(stepped.map { URL(fileURLWithPath: $0.0).standardized.deletingLastPathComponent().path })
        if runFolders.count > 1 {
            return (nil, ["no steps chart: the step-N checkpoints lie in \(runFolders.count) folders (\(runFolders.sorted().prefix(3).joined(separator: ", "))), "
                          + "not one run's; give --steps to chart them as one run"])
        }
        if let twice = stepped.compactMap(\.1).duplicates.first {
            return (nil, ["no steps chart: two checkpoints are named step \(twice); give --steps"])
        }
        let notes = zip(paths, named).filter { $0.1 == nil }.map {
            "\($0.0) has no training step in its name, so the steps chart leaves it out; --steps places it"
        }
        return (named, notes)
    }
}

extension Array where Element: Hashable {
    /// The elements that occur more than once, in order of their second occurrence.
    var duplicates: [Element] {
        var seen = Set<Element>(), out: [Element] = []
        for x in self where !seen.insert(x).inserted { out.append(x) }
        return out
    }
}
