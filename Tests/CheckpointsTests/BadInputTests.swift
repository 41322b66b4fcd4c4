import Checkpoints
import Engine
import Foundation
import XCTest

/// Every kind of bad input is one error line naming the file; nothing crashes.
final class BadInputTests: XCTestCase {
    /// A safetensors file with a hand-written header and `dataBytes` zero bytes of data.
    func raw(_ dir: String, _ name: String, header: String, dataBytes: Int, claimedLength: UInt64? = nil) throws -> String {
        let path = dir + "/" + name
        var d = Data()
        let h = Data(header.utf8)
        withUnsafeBytes(of: (claimedLength ?? UInt64(h.count)).littleEndian) { d.append(contentsOf: $0) }
        d.append(h)
        d.append(Data(count: dataBytes))
        try d.write(to: URL(fileURLWithPath: path))
        return path
    }

    func testFileSystemProblems() throws {
        let dir = try tempDir(self)
        assertFails(dir + "/nope.safetensors", containing: ["no such file"]) { _ = try loadCheckpoint(path: dir + "/nope.safetensors") }
        assertFails(dir, containing: ["is a folder without model.safetensors, pytorch_model.bin"]) { _ = try loadCheckpoint(path: dir) }
        let short = try raw(dir, "short.safetensors", header: "", dataBytes: 0, claimedLength: 0)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: short))
        assertFails(short, containing: ["too short"]) { _ = try SafetensorsFile(path: short) }
        // Three bytes match no format's signature: the loader says so rather than a reader's complaint.
        assertFails(short, containing: ["not a checkpoint gpt2lab can read"]) { _ = try loadCheckpoint(path: short) }
        let garbage = dir + "/garbage.h5"
        try Data((0..<100).map { UInt8($0) }).write(to: URL(fileURLWithPath: garbage))
        assertFails(garbage) { _ = try loadCheckpoint(path: garbage) }
        assertFails(garbage, containing: ["not an HDF5 file"]) { _ = try HDF5File(path: garbage) }
    }

    func testLyingHeaders() throws {
        let dir = try tempDir(self)
        let cases: [(String, String, Int, UInt64?, String)] = [
            ("pastEOF", "{}", 0, 1000, "past the end"),
            ("huge", "{}", 0, 200_000_000, "100 MB"),
            ("notjson", "{nope", 0, nil, "not valid JSON"),
            ("array", "[1,2]", 0, nil, "not a JSON object"),
            ("dtype", #"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#, 1, nil, "unsupported dtype"),
            ("size", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, 8, nil, "needs 8 bytes"),
            ("overlap", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12, nil, "overlap"),
            ("range", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, 8, nil, "past the end"),
            ("overflow", #"{"a":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#, 8, nil, "more bytes"),
            ("negative", #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, nil, "non-negative"),
            ("meta", #"{"__metadata__":{"x":1}}"#, 0, nil, "__metadata__"),
        ]
        for (name, header, bytes, claimed, words) in cases {
            let p = try raw(dir, name + ".safetensors", header: header, dataBytes: bytes, claimedLength: claimed)
            assertFails(p, containing: [words]) { _ = try SafetensorsFile(path: p) }
            assertFails(p) { _ = try loadCheckpoint(path: p) }
        }
        // A real checkpoint cut inside its header, or a length past any file: named as cut short, not as "not a checkpoint".
        let whole = try Data(contentsOf: URL(fileURLWithPath: try fixtures() + "/runs/baseline/model.safetensors"))
        let cut = dir + "/cut.safetensors"
        try whole.prefix(200).write(to: URL(fileURLWithPath: cut))
        assertFails(cut, containing: ["starts as safetensors, but its header of", "runs past the end of the file (200 bytes)"]) {
            _ = try loadCheckpoint(path: cut)
        }
        // …but a length no safetensors header has (2^63; a text file's bytes) is not taken for one
        let huge = try raw(dir, "huge63.safetensors", header: "{}", dataBytes: 0, claimedLength: 1 << 63)
        assertFails(huge, containing: ["not a checkpoint gpt2lab can read"]) { _ = try loadCheckpoint(path: huge) }
        let text = dir + "/notes.txt"
        try Data("int main{ return 0; }\n".utf8).write(to: URL(fileURLWithPath: text))
        assertFails(text, containing: ["not a checkpoint gpt2lab can read"]) { _ = try loadCheckpoint(path: text) }
    }

    /// Start from a valid HF model (the reference in Conv1D names) and break it.
    func hfTensors() throws -> [TensorToWrite] {
        let ref = try loadCheckpoint(path: try fixtures() + "/runs/reference/model.safetensors")
        return VariantTests.hfTensors(ref.weights, prefix: "transformer.", conv1D: true, dtype: .F32)
    }

    func testMissingUnexpectedWrongShape() throws {
        let dir = try tempDir(self), good = try hfTensors()
        func write(_ name: String, _ t: [TensorToWrite]) throws -> String {
            let p = dir + "/" + name + ".safetensors"
            try writeSafetensors(path: p, tensors: t)
            return p
        }
        let missing = try write("missing", good.filter { $0.name != "transformer.h.2.mlp.c_fc.weight" })
        assertFails(missing, containing: ["missing", "h.2.mlp.c_fc.weight"]) { _ = try loadCheckpoint(path: missing, heads: 4) }

        let partialBias = try write("partial", good.filter { $0.name != "transformer.h.1.attn.c_attn.bias" })
        assertFails(partialBias, containing: ["missing", "h.1.attn.c_attn.bias"]) { _ = try loadCheckpoint(path: partialBias, heads: 4) }

        let extra = try write("extra", good + [TensorToWrite(name: "transformer.h.0.attn.rotary", shape: [2], values: [1, 2])])
        assertFails(extra, containing: ["unexpected", "transformer.h.0.attn.rotary"]) { _ = try loadCheckpoint(path: extra, heads: 4) }

        var bent = good
        let i = try XCTUnwrap(bent.firstIndex { $0.name == "transformer.h.3.attn.c_proj.weight" })
        bent[i].shape = [64, 256]
        let shape = try write("shape", bent)
        assertFails(shape, containing: ["h.3.attn.c_proj.weight", "[128, 128]", "[64, 256]"]) { _ = try loadCheckpoint(path: shape, heads: 4) }

        let noEmb = try write("noemb", good.filter { !$0.name.hasSuffix("wte.weight") })
        assertFails(noEmb, containing: ["wte.weight"]) { _ = try loadCheckpoint(path: noEmb, heads: 4) }

        let unknown = try write("unknown", [TensorToWrite(name: "encoder.layer.0.weight", shape: [1], values: [1])])
        assertFails(unknown, containing: ["unknown checkpoint layout", "encoder.layer.0.weight"]) { _ = try loadCheckpoint(path: unknown) }

        let badHeads = try write("heads", good)
        assertFails(badHeads, containing: ["divisible"]) { _ = try loadCheckpoint(path: badHeads, heads: 3) }

        // F32 bytes declared I32 (same size) loaded as whole numbers and scored with exit 0.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: badHeads))
        let header = Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let text = String(decoding: bytes[8..<8 + header], as: UTF8.self)
        let lied = text.replacingOccurrences(of: #""dtype":"F32""#, with: #""dtype":"I32""#)
        XCTAssertNotEqual(lied, text)
        bytes.replaceSubrange(8..<8 + header, with: Data(lied.utf8))
        let ints = dir + "/ints.safetensors"
        try bytes.write(to: URL(fileURLWithPath: ints))
        assertFails(ints, containing: ["is stored as I32", "weights must be floating point"]) { _ = try loadCheckpoint(path: ints, heads: 4) }
    }

    func testKerasHeadsContradiction() throws {
        let p = try fixtures() + "/layouts/weight-tying-keras-hub.weights.h5"
        assertFails(p, containing: ["--heads 2"]) { _ = try loadCheckpoint(path: p, heads: 2) }
    }
}
