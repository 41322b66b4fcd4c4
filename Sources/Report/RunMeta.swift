// What a run's training script left beside its checkpoint: hyperparameters and a loss curve.

import Analysis
import Foundation

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
        func num(_ k: String) -> Double? { (value(k) as? NSNumber)?.doubleValue }
        var h = Hyperparameters()
        h.lr = num("lr")
        h.weightDecay = num("weight_decay")
        // Int(Double) traps on 1e300; a count must be a whole number an Int holds.
        func count(_ k: String) throws -> Int? {
            guard let x = num(k) else { return nil }
            guard x.isFinite, x == x.rounded(), abs(x) < 9e15 else {
                throw ManifestError(manifest, "\(p): '\(k)' is \(x), expected a whole number")
            }
            return Int(x)
        }
        h.batchSize = try count("batch_size")
        h.steps = try count("steps")
        h.tokens = try num("tokens_seen") != nil ? count("tokens_seen") : count("tokens")
        h.schedule = value("schedule") as? String
        let curve: [(step: Double, loss: Double)] = ((root["loss_curve"] as? [[Any]]) ?? []).compactMap { pair in
            guard pair.count >= 2, let s = (pair[0] as? NSNumber)?.doubleValue, let l = (pair[1] as? NSNumber)?.doubleValue
            else { return nil }
            return (s, l)
        }
        return (h, curve, name)
    }
    return nil
}
