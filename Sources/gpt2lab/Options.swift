import ArgumentParser

/// `--heads`, for every command that loads a checkpoint (the checkpoint loader checks it).
struct HeadsOption: ParsableArguments {
    @Option(help: "Attention heads (default: config.json / meta.json beside the checkpoint, else width/64).")
    var heads: Int?
}

/// The test set a checkpoint runs on, its window length and the engine's threads: `score`
/// and `hessian`.
struct TestSetOptions: ParsableArguments {
    @Option(name: .customLong("test-set"),
            help: "Token ids (uint16 .bin, safetensors `tokens`, HDF5 with --dataset) or text (.txt, .jsonl), tokenized.")
    var testSet: String

    @Option(help: "HDF5 dataset / safetensors tensor holding the ids.")
    var dataset: String?

    @Option(help: "Window length T (default: the model's context length).")
    var context: Int?

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let context, context < 1 { throw ValidationError("--context must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }
}
