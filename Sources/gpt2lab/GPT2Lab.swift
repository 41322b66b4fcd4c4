import ArgumentParser

@main
struct GPT2Lab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt2lab",
        abstract: "Score, inspect and compare GPT-2 checkpoints on the CPU.",
        discussion: """
        Loads checkpoints — \(checkpointKinds) — in HF, nanoGPT, Raschka/gpjt, KerasHub and HF-TF layouts \
        into one GPT-2 engine whose losses match HF transformers.
        """,
        version: "0.1.0",
        subcommands: [Score.self, Compare.self, Interpolate.self, Inspect.self, Sample.self, Tokenize.self, Norms.self, Spectra.self, Hessian.self, ReportCommand.self, Merge.self, Eval.self, Doctor.self]
    )
}
