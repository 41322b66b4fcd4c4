import ArgumentParser
import Foundation
import Plumbing
import Tokenizer

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

    /// Arguments are read as UTF-8: one that is not (a `--text`, a `--prompt`, a path in another encoding) would
    /// reach the command with each bad byte turned into U+FFFD, a different text or path; refused instead.
    static func main() {
        if let problem = invalidUTF8Argument(Array(CommandLine.arguments.indices.dropFirst())) {
            printToStderr("gpt2lab: \(problem)\n")
            Foundation.exit(64)
        }
        Self.main(nil)
    }
}

/// "argument N is not valid UTF-8 …" for the first of argv's `indices` that is not, else nil.
func invalidUTF8Argument(_ indices: [Int]) -> String? {
    for i in indices {
        guard let c = CommandLine.unsafeArgv[i] else { continue }
        let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(c).assumingMemoryBound(to: UInt8.self), count: strlen(c)))
        if let offset = firstInvalidUTF8Offset(bytes) {
            let shown = String(decoding: bytes.prefix(80), as: UTF8.self).debugDescription + (bytes.count > 80 ? "…" : "")
            return oneLine("argument \(i) (\(shown)) is not valid UTF-8 at byte offset \(offset); "
                           + "gpt2lab reads its arguments, texts and paths alike, as UTF-8")
        }
    }
    return nil
}
