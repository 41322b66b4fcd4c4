// What a run's training script left beside its checkpoint: hyperparameters and a loss curve.

import Analysis
import Foundation
import Plumbing

/// Hyperparameters and loss curve from `meta.json` (gpt2lab's example runs: `train.lr`,
/// `train.weight_decay`, `train.batch_size`, `train.schedule`, `steps`, `tokens_seen`,
/// `loss_curve` [[step, loss], …]) or `train.json` (the same keys, nested under `train` or flat)
/// beside the checkpoint; nil when neither exists.
func readRunMeta(besides checkpoint: String, manifest: String) throws
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
        func value(_ k: String) -> Any? { train[k] ?? root[k] }
        // A value that is there must be what the manifest's key would accept: a boolean is not 1, a string not a rate.
        func num(_ k: String) throws -> Double? {
            guard let raw = value(k), !(raw is NSNull) else { return nil }
            guard let x = jsonNumber(raw), x.isFinite, x >= 0 else {
                let shown = raw is String ? "the string \"\(raw)\"" : jsonBool(raw).map { "\($0)" } ?? "\(raw)"
                throw ManifestError(manifest, "\(p): '\(k)' is \(shown), expected a number ≥ 0")
            }
            return x
        }
        var h = Hyperparameters()
        h.lr = try num("lr")
        h.weightDecay = try num("weight_decay")
        // Int(Double) traps on 1e300; a count must be a whole number ≥ 1 an Int holds.
        func count(_ k: String) throws -> Int? {
            guard let x = try num(k) else { return nil }
            guard x == x.rounded(), x >= 1, x < 9e15 else {
                throw ManifestError(manifest, "\(p): '\(k)' is \(x), expected a whole number ≥ 1")
            }
            return Int(x)
        }
        h.batchSize = try count("batch_size")
        h.steps = try count("steps")
        h.tokens = try value("tokens_seen") != nil ? count("tokens_seen") : count("tokens")
        if let s = value("schedule"), !(s is NSNull) {
            guard let text = s as? String else { throw ManifestError(manifest, "\(p): 'schedule' is \(s), expected a string") }
            h.schedule = text
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
