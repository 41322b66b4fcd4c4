import ArgumentParser

@main
struct GPT2Lab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpt2lab",
        abstract: "Score, inspect and compare GPT-2 checkpoints, on the CPU or an NVIDIA GPU.",
        discussion: """
        Loads checkpoints — \(checkpointKinds) — in HF, nanoGPT, Raschka/gpjt, KerasHub and HF-TF layouts \
        into one GPT-2 engine whose losses match HF transformers. score, compare, interpolate, eval, hessian and report \
        take --device auto|cpu|cuda[:N]: CUDA is loaded at run time, and `gpt2lab doctor` says what this machine has.
        """,
        version: "0.1.0",
        subcommands: [Score.self, Compare.self, Interpolate.self, Inspect.self, Sample.self, Tokenize.self, Norms.self, Spectra.self, Hessian.self, ReportCommand.self, Merge.self, Eval.self, Doctor.self]
    )
}
