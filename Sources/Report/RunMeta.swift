// What a run's training script left beside its checkpoint: hyperparameters and a loss curve.

import Analysis
import Foundation
import Plumbing

/// Hyperparameters and loss curve from `meta.json` (gpt2lab's example runs: `train.lr`,
/// `train.weight_decay`, `train.batch_size`, `train.schedule`, `steps`, `tokens_seen`,
/// `loss_curve` [[step, loss], …]) or `train.json` (the same keys, nested under `train` or flat)
/// beside the checkpoint; nil when neither exists. Keys the manifest sets (`given`) are not read: its value wins,
/// and a meta.json value it replaces cannot stop the report.
func readRunMeta(besides checkpoint: String, manifest: String, given: Hyperparameters = Hyperparameters()) throws
    -> (hyper: Hyperparameters, curve: [(step: Double, loss: Double)], file: String)? {
    let folder = (checkpoint as NSString).deletingLastPathComponent
    for name in ["meta.json", "train.json"] {
        let p = (folder.isEmpty ? "." : folder) + "/" + name
        guard FileManager.default.fileExists(atPath: p) else { continue }
        guard let data = FileManager.default.contents(atPath: p),
              let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ManifestError(manifest, "\(p): not a JSON object")
        }
        let train = root["train"] as? [String: Any] ?? [:]
        func value(_ k: String) -> Any? { (train[k] ?? root[k]).flatMap { $0 is NSNull ? nil : $0 } }
        func shown(_ raw: Any) -> String {
            if raw is String { return "the string \"\(raw)\"" }
            if let b = jsonBool(raw) { return "\(b)" }
            if let x = jsonNumber(raw), x == x.rounded(), abs(x) < 1e15 { return "\(Int(x))" }
            return "\(raw)"
        }
        // A value that is there must be what the manifest's key would take: a boolean is not 1, a string not a rate.
        func num(_ k: String) throws -> Double? {
            guard let raw = value(k) else { return nil }
            guard let x = jsonNumber(raw), x.isFinite, x >= 0 else {
                throw ManifestError(manifest, "\(p): '\(k)' is \(shown(raw)), expected a number ≥ 0 (or set `\(k)` in the manifest)")
            }
            return x
        }
        // A count is a whole number an Int holds (Int(Double) traps on 1e300); 0 (a step-0 checkpoint) says nothing of τ.
        func count(_ k: String, as key: String) throws -> Int? {
            guard let raw = value(k) else { return nil }
            guard let x = jsonNumber(raw), x.isFinite, x == x.rounded(), x >= 0, x < 9e15 else {
                throw ManifestError(manifest, "\(p): '\(k)' is \(shown(raw)), expected a whole number ≥ 0 (or set `\(key)` in the manifest)")
            }
            return x >= 1 ? Int(x) : nil
        }
        var h = Hyperparameters()
        if given.lr == nil { h.lr = try num("lr") }
        if given.weightDecay == nil { h.weightDecay = try num("weight_decay") }
        if given.batchSize == nil { h.batchSize = try count("batch_size", as: "batch_size") }
        if given.steps == nil { h.steps = try count("steps", as: "steps") }
        if given.tokens == nil { h.tokens = try value("tokens_seen") != nil ? count("tokens_seen", as: "tokens") : count("tokens", as: "tokens") }
        // Text for people: a schedule written as an object ({"name": "cosine", …}) is shown as its JSON.
        if given.schedule == nil, let s = value("schedule") {
            h.schedule = s as? String ?? (try? JSONSerialization.data(withJSONObject: s, options: [.sortedKeys, .fragmentsAllowed]))
                .map { String(decoding: $0, as: UTF8.self) }
        }
        let curve: [(step: Double, loss: Double)] = ((root["loss_curve"] as? [[Any]]) ?? []).compactMap { pair in
            guard pair.count >= 2, let s = jsonNumber(pair[0]), let l = jsonNumber(pair[1]), s.isFinite, l.isFinite
            else { return nil }
            return (s, l)
        }
        return (h, curve, name)
    }
    return nil
}
