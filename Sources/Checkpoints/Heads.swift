// The head count is the one size a checkpoint's shapes don't tell (KerasHub's q/k/v excepted).
// Sources, first found wins: the shapes, what the file states (nanoGPT's model_args, the llm.c
// header), an explicit argument, `config.json` (HF, n_head),
// `meta.json` / `model.json` (gpjt and these fixtures: n_heads or n_head, possibly under
// "model"), and finally width/64 (GPT-2's head size) with a warning.

import Foundation

struct HeadsChoice {
    let heads: Int
    let source: String
    let warning: String?
}

func resolveHeads(explicit: Int?, fromShape: Int?, fromFile: (heads: Int, source: String)? = nil, checkpoint: String,
                  directory: String, width: Int) throws -> HeadsChoice {
    if let fromShape {
        if let explicit, explicit != fromShape {
            throw CheckpointError(checkpoint, .badConfig, "--heads \(explicit) contradicts the \(fromShape) heads in the q/k/v shapes")
        }
        return HeadsChoice(heads: fromShape, source: "shape", warning: nil)
    }
    if let (n, source) = fromFile {
        guard n > 0 else { throw CheckpointError(checkpoint, .badConfig, "\(source) gives \(n) heads, expected a positive number") }
        if let explicit, explicit != n {
            throw CheckpointError(checkpoint, .badConfig, "--heads \(explicit) contradicts the \(n) heads the file's \(source) gives")
        }
        return HeadsChoice(heads: n, source: source, warning: nil)
    }
    if let explicit {
        guard explicit > 0 else { throw CheckpointError(checkpoint, .badConfig, "--heads must be positive, got \(explicit)") }
        return HeadsChoice(heads: explicit, source: "--heads", warning: nil)
    }
    let dir = directory
    for file in ["config.json", "meta.json", "model.json"] {
        let p = dir.isEmpty ? file : dir + "/" + file
        guard FileManager.default.fileExists(atPath: p) else { continue }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: p))) } catch {
            throw CheckpointError(p, .badConfig, "is not valid JSON (needed for the head count)")
        }
        guard let dict = object as? [String: Any] else { continue }
        for d in [dict, dict["model"] as? [String: Any] ?? [:]] {
            for key in ["n_head", "n_heads", "num_attention_heads"] {
                guard let v = d[key] else { continue }
                guard let n = jsonInt(v), n > 0 else {
                    throw CheckpointError(p, .badConfig, "'\(key)' is \(v), expected a positive integer")
                }
                return HeadsChoice(heads: n, source: file, warning: nil)
            }
        }
    }
    let n = max(1, width / 64)
    return HeadsChoice(heads: n, source: "default (width/64)",
                       warning: "head count not given (no --heads, config.json or meta.json): assuming width/64 = \(n)")
}
