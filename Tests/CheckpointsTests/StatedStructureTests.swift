import Checkpoints
import Engine
import Foundation
import XCTest

/// A config beside a checkpoint that says how the model is built (a tied head, q/k/v biases) must describe the
/// tensors: an untied model saved without its head was scored with its embedding as the head (loss 50.49 where the
/// file's model is unknown), with exit 0.
final class StatedStructureTests: XCTestCase {
    /// A copy of fixture run `run` in a folder of its own: its tensors (`edit` may drop or change some) and its
    /// meta.json with `model` keys overridden.
    func copy(_ run: String, meta: [String: Any], edit: (inout [(name: String, shape: [Int], values: [Float])]) -> Void = { _ in })
        throws -> String {
        let src = try fixtures() + "/runs/\(run)"
        let dir = try tempDir(self)
        var tensors = try readSourceTensors(path: src + "/model.safetensors")
        edit(&tensors)
        try writeSafetensors(path: dir + "/model.safetensors",
                             tensors: tensors.map { TensorToWrite(name: $0.name, shape: $0.shape, dtype: .F32, values: $0.values) })
        var m = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: src + "/meta.json"))) as? [String: Any])
        var model = try XCTUnwrap(m["model"] as? [String: Any])
        for (k, v) in meta { model[k] = v }
        m["model"] = model
        try JSONSerialization.data(withJSONObject: m).write(to: URL(fileURLWithPath: dir + "/meta.json"))
        return dir + "/model.safetensors"
    }

    func testUntiedModelWithoutItsHeadIsRefused() throws {
        let path = try copy("baseline", meta: [:]) { $0.removeAll { $0.name == "out_head.weight" } }
        assertFails(path, containing: ["meta.json says weight_tying = false but the file holds no LM head"]) { _ = try loadCheckpoint(path: path) }
        // The mirror: the head kept, the embedding dropped (it would be copied from the head: a tied model).
        let noEmbedding = try copy("baseline", meta: [:]) { $0.removeAll { $0.name == "tok_emb.weight" } }
        assertFails(noEmbedding, containing: ["says weight_tying = false but the file holds no token embedding"]) {
            _ = try loadCheckpoint(path: noEmbedding)
        }
        // Refused by a peek too (a report's checks before any scoring), from the names alone.
        assertFails(path, containing: ["holds no LM head"]) { _ = try checkpointConfig(path: path) }
        // Stated as tied, the same tensors are a tied model.
        let tied = try copy("baseline", meta: ["weight_tying": true]) { $0.removeAll { $0.name == "out_head.weight" } }
        XCTAssertTrue(try loadCheckpoint(path: tied).weights.tied)
    }

    func testTiedModelWhoseHeadDiffersIsRefused() throws {
        // The fixture stores the shared matrix once (tok_emb.weight an alias of out_head.weight): store both, the head moved.
        let path = try copy("reference", meta: [:]) { t in
            let i = t.firstIndex { $0.name == "out_head.weight" }!
            t.append((name: "tok_emb.weight", shape: t[i].shape, values: t[i].values))
            t[i].values = t[i].values.map { $0 + 0.01 }
        }
        assertFails(path, containing: ["says weight_tying = true but the stored LM head differs from the token embedding"]) {
            _ = try loadCheckpoint(path: path)
        }
        XCTAssertTrue(try loadCheckpoint(path: try copy("reference", meta: [:])).weights.tied, "the fixture as trained: tied")
    }

    func testQKVBiasMustMatchTheTensors() throws {
        let missing = try copy("baseline", meta: ["qkv_bias": true])
        assertFails(missing, containing: ["says qkv_bias = true but the file holds no query/key/value biases"]) { _ = try loadCheckpoint(path: missing) }
        let extra = try copy("reference", meta: ["qkv_bias": false])
        assertFails(extra, containing: ["says qkv_bias = false but the file holds query/key/value biases"]) { _ = try loadCheckpoint(path: extra) }
        // A value that is not a JSON boolean: the message names the config.
        let text = try copy("baseline", meta: ["qkv_bias": "no"]), textMeta = (text as NSString).deletingLastPathComponent + "/meta.json"
        assertFails(textMeta, containing: ["'qkv_bias' is the string \"no\", expected true or false"]) { _ = try loadCheckpoint(path: text) }
        let number = try copy("baseline", meta: ["qkv_bias": 0]), numberMeta = (number as NSString).deletingLastPathComponent + "/meta.json"
        assertFails(numberMeta, containing: ["'qkv_bias' is 0, expected true or false"]) { _ = try loadCheckpoint(path: number) }
    }

    /// An HF GPT-2 config.json without `tie_word_embeddings` ties the head (HF's default): a stored head that differs
    /// from the embedding is what HF would not use.
    func testHFConfigWithoutTheTieKeyIsTied() throws {
        let path = try copy("reference", meta: [:]) { t in
            let i = t.firstIndex { $0.name == "out_head.weight" }!
            t.append((name: "tok_emb.weight", shape: t[i].shape, values: t[i].values))
            t[i].values = t[i].values.map { $0 + 0.01 }
        }
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.removeItem(atPath: dir + "/meta.json")
        try Data(#"{"model_type": "gpt2", "n_head": 4}"#.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        assertFails(path, containing: ["says tie_word_embeddings (absent: HF's default) = true but the stored LM head differs"]) {
            _ = try loadCheckpoint(path: path)
        }
        try Data(#"{"model_type": "gpt2", "n_head": 4, "tie_word_embeddings": false}"#.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        XCTAssertFalse(try loadCheckpoint(path: path).weights.tied)
    }

    /// A config.json beside a meta.json no longer hides it: both are checked.
    func testMetaJSONIsReadBesideConfigJSON() throws {
        let path = try copy("baseline", meta: ["qkv_bias": true])
        let dir = (path as NSString).deletingLastPathComponent
        try Data(#"{"n_head": 4, "n_layer": 4, "n_embd": 64, "n_positions": 256, "vocab_size": 50257}"#.utf8)
            .write(to: URL(fileURLWithPath: dir + "/config.json"))
        assertFails(path, containing: ["meta.json says qkv_bias = true"]) { _ = try loadCheckpoint(path: path) }
        try Data(#"{"n_head": 2}"#.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let fine = try copy("baseline", meta: [:])
        try FileManager.default.copyItem(atPath: dir + "/config.json",
                                         toPath: (fine as NSString).deletingLastPathComponent + "/config.json")
        assertFails(fine, containing: ["n_heads = 4", "n_head = 2"]) { _ = try loadCheckpoint(path: fine) }
    }
}
