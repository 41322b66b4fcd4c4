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

/// Which windows of the test set are scored, and how many per forward: `score` and `compare`.
struct WindowOptions: ParsableArguments {
    @Option(help: "Distance between window starts, 1...T (default T: disjoint windows).")
    var stride: Int?

    @Option(help: "Drop the first N tokens.")
    var skip: Int = 0

    @Option(name: .customLong("max-tokens"), help: "After --skip, use only the next N tokens.")
    var maxTokens: Int?

    @Option(help: "Windows per forward pass (default: about 1024 positions).")
    var batch: Int?

    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if skip < 0 { throw ValidationError("--skip must be non-negative") }
    }
}
