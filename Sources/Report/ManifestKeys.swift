// Every key of the report manifest, once: where it may appear, what its value must be, what it
// needs, and the line docs/report.md shows for it (`manifestKeyTable()`; ManifestKeyTests checks the
// page holds exactly that table). Manifest.swift checks a file against this table and builds the
// `ReportManifest`; a key added here is known, checked and documented at once.

import Analysis

/// Where a key may appear.
enum ManifestScope: String, Sendable {
    case top = "top level"
    case run = "`[[run]]`"
}

/// What a key's value must be. Each kind has one message for a value that is not one (`checkValue`).
enum ManifestValueKind: Sendable {
    /// A string.
    case text
    /// A string naming a file, relative to the manifest; it must exist and not be a folder.
    case file
    /// Like `file`, but a folder (sharded safetensors) is allowed too.
    case checkpoint
    /// An integer ≥ min.
    case count(min: Int)
    /// A non-negative number (an integer is read as one).
    case amount
    /// A positive number: a half-width in nats.
    case halfWidth
    /// true or false.
    case flag
    /// One of these strings; `what` names the set in the message ("a recipe").
    case choice([String], what: String)
    /// An array of run names.
    case runNames
    /// An array of step-checkpoint paths, each naming its step.
    case stepFiles
    /// true, false or an array of run names.
    case flagOrRunNames
    /// An array of two-name arrays of runs.
    case runPairs
    /// The array of `[[run]]` tables.
    case runTables
}

/// One manifest key.
struct ManifestKey: Sendable {
    let name: String
    let scope: ManifestScope
    let kind: ManifestValueKind
    /// A missing required key is an error.
    var required = false
    /// The key is an error unless one of these top-level keys is given (a flag: set to true); `phrase`
    /// names them in the message ("ci_seed without ci = HALF_WIDTH").
    var needs: (keys: [String], phrase: String)?
    /// Its line in docs/report.md's table.
    let doc: String

    init(_ name: String, _ scope: ManifestScope, _ kind: ManifestValueKind, required: Bool = false,
         needs: (keys: [String], phrase: String)? = nil, _ doc: String) {
        self.name = name; self.scope = scope; self.kind = kind; self.required = required; self.needs = needs; self.doc = doc
    }
}

/// Every key, top level then `[[run]]`, in the order they are checked.
let manifestKeys: [ManifestKey] = [
    ManifestKey("title", .top, .text, "the page's title; default: the manifest's file name without its extension"),
    ManifestKey("description", .top, .text, "a paragraph under the title"),
    ManifestKey("test_set", .top, .file, required: true, "the test set: `.txt`, `.jsonl`, `.bin`, `.safetensors` or `.h5`"),
    ManifestKey("context", .top, .count(min: 1), "tokens per window; default: the baseline's context"),
    ManifestKey("stride", .top, .count(min: 1), "window start step (at most `context`); default: `context`"),
    ManifestKey("skip", .top, .count(min: 0), "tokens skipped at the start of the test set; default 0"),
    ManifestKey("max_tokens", .top, .count(min: 2), "tokens used after `skip`; default: all"),
    ManifestKey("baseline", .top, .text, required: true, "the run every other run is compared with"),
    ManifestKey("reference", .top, .text, "a run other than the baseline standing for the target (\"% of the gap closed\")"),
    ManifestKey("reference_note", .top, .text, "a note on the reference, shown at the top of the page"),
    ManifestKey("full_vocab", .top, .flag, "softmax over every stored row of a padded vocabulary; default false (GPT-2's 50257)"),
    ManifestKey("hellaswag", .top, .file, "HellaSwag JSONL: a benchmark table beside the test loss"),
    ManifestKey("hellaswag_recipe", .top, .choice(EvalSpec.recipeNames, what: "a recipe"),
                needs: (["hellaswag"], "hellaswag = \"FILE.jsonl\""), "how HellaSwag is scored; default `llmc`"),
    ManifestKey("lambada", .top, .file, "LAMBADA JSONL: a benchmark table beside the test loss"),
    ManifestKey("eval_limit", .top, .count(min: 1), needs: (["hellaswag", "lambada"], "hellaswag or lambada"),
                "score only the first N examples of each benchmark file"),
    ManifestKey("ci", .top, .halfWidth, "sequential paired scoring: stop each run once Δ's 95% interval is ± this many nats"),
    ManifestKey("ci_seed", .top, .count(min: 0), needs: (["ci"], "ci = HALF_WIDTH"), "seed of the window visiting order; default 0"),
    ManifestKey("ci_min_windows", .top, .count(min: minSequentialWindows), needs: (["ci"], "ci = HALF_WIDTH"),
                "windows read before a sequential run may stop; default 30"),
    ManifestKey("loss_across_steps", .top, .flag, "also score each run's step checkpoints (test loss vs step); default false"),
    ManifestKey("spectra", .top, .flag, "weight-matrix spectra (power-law α, α̂, stable rank, spikes) of each run, and of its step "
                + "checkpoints with loss_across_steps; default false"),
    ManifestKey("per_token", .top, .flagOrRunNames, "token-by-token comparison with the baseline: `true` (every run) or the runs"),
    ManifestKey("per_token_max_tokens", .top, .count(min: 1), needs: (["per_token"], "per_token"),
                "tokens each per-token comparison scores; default \(defaultPerTokenMaxTokens)"),
    ManifestKey("frequencies", .top, .file, needs: (["per_token"], "per_token"),
                "token file the per-token section ranks token types by (the runs' training data; any `test_set` format, "
                + "a `.bin` counted as it is read); default: the test set's scored tokens"),
    ManifestKey("frequencies_dataset", .top, .text, needs: (["frequencies"], "frequencies = \"FILE\""),
                "HDF5 dataset / safetensors tensor of `frequencies`"),
    ManifestKey("interpolate", .top, .runPairs, "pairs of runs `[[\"a\", \"b\"], …]`: the test loss along the straight line "
                + "(1 − t)·θ_a + t·θ_b and its barrier; same shapes"),
    ManifestKey("interpolate_points", .top, .count(min: 2), needs: (["interpolate"], "interpolate"),
                "evenly spaced t in [0, 1], both ends included; default \(defaultInterpolatePoints)"),
    ManifestKey("interpolate_max_tokens", .top, .count(min: 1), needs: (["interpolate"], "interpolate"),
                "tokens each point scores (the report's first windows); default \(defaultPerTokenMaxTokens)"),
    ManifestKey("run", .top, .runTables, required: true, "one `[[run]]` table per run, with the keys below"),
    ManifestKey("name", .run, .text, required: true, "the run's name, unique"),
    ManifestKey("checkpoint", .run, .checkpoint, required: true, "its checkpoint: a file, or a folder of sharded safetensors"),
    ManifestKey("description", .run, .text, "a line shown beside the run"),
    ManifestKey("seed_group", .run, .text, "the run this one differs from only in its seed (a run with no seed_group of its own): they form the seed band; one group per manifest"),
    ManifestKey("stack_of", .run, .runNames, "runs whose changes this one stacks: the page shows the sum of their Δ"),
    ManifestKey("scores", .run, .file, "the run's scores from `score --json` or `merge --json` instead of scoring it (the checkpoint and test-set hashes, heads and softmax rows they record must be this run's and the report's)"),
    ManifestKey("heads", .run, .count(min: 1), "attention heads, for a checkpoint whose file and folder state none"),
    ManifestKey("lr", .run, .amount, "learning rate; default: from meta.json / train.json, else the checkpoint"),
    ManifestKey("weight_decay", .run, .amount, "weight decay; default as `lr`"),
    ManifestKey("batch_size", .run, .count(min: 1), "sequences per step; default: from meta.json / train.json"),
    ManifestKey("steps", .run, .count(min: 1), "training steps; default as `lr`"),
    ManifestKey("tokens", .run, .count(min: 1), "training tokens; default: from meta.json / train.json"),
    ManifestKey("schedule", .run, .text, "the learning-rate schedule, as text; default: from meta.json / train.json"),
    ManifestKey("step_checkpoints", .run, .stepFiles, needs: (["loss_across_steps"], "loss_across_steps = true"),
                "the run's step checkpoints; default: every `step-N` / `iter=N` file beside its checkpoint"),
]

/// The keys allowed in `scope`, in checking order.
func manifestKeys(in scope: ManifestScope) -> [ManifestKey] { manifestKeys.filter { $0.scope == scope } }

extension ManifestValueKind {
    /// What the value must be, as docs/report.md's table says it.
    var summary: String {
        switch self {
        case .text: return "string"
        case .file: return "path"
        case .checkpoint: return "path (file or folder)"
        case let .count(min): return "integer ≥ \(min)"
        case .amount: return "number ≥ 0"
        case .halfWidth: return "number > 0"
        case .flag: return "true / false"
        case let .choice(options, _): return options.map { "`\"\($0)\"`" }.joined(separator: " / ")
        case .runNames: return "[run names]"
        case .stepFiles: return "[paths]"
        case .flagOrRunNames: return "true / false / [run names]"
        case .runPairs: return "[[run, run], …]"
        case .runTables: return "tables"
        }
    }
}

/// docs/report.md's table of every key (Markdown), made from `manifestKeys`.
func manifestKeyTable() -> String {
    var lines = ["| key | in | value | meaning |", "|---|---|---|---|"]
    for k in manifestKeys {
        let value = k.kind.summary + (k.required ? ", required" : "")
        let needs = k.needs.map { " (needs \($0.phrase))" } ?? ""
        lines.append("| `\(k.name)` | \(k.scope.rawValue) | \(value.replacingOccurrences(of: "|", with: "\\|")) | \(k.doc)\(needs) |")
    }
    return lines.joined(separator: "\n") + "\n"
}
