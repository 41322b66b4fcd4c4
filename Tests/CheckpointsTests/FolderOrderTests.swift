@testable import Checkpoints
import Foundation
import XCTest

/// Which file of an HF folder is the checkpoint: transformers' `from_pretrained` order (modeling_utils.py checks
/// model.safetensors before model.safetensors.index.json, then pytorch_model.bin): a folder holding a single file
/// beside a stale index loads the single file, as HF does (gpt2lab took the index: a different model's loss, exit 0).
final class FolderOrderTests: XCTestCase {
    func testFromPretrainedOrder() throws {
        let dir = try tempDir(self)
        func touch(_ name: String) throws { try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        try touch("tf_model.h5")
        XCTAssertEqual(try checkpointInFolder(dir), dir + "/tf_model.h5")
        try touch("pytorch_model.bin")
        XCTAssertEqual(try checkpointInFolder(dir), dir + "/pytorch_model.bin")
        try touch("model.safetensors.index.json")
        XCTAssertEqual(try checkpointInFolder(dir), dir + "/model.safetensors.index.json")
        try touch("model.safetensors")
        XCTAssertEqual(try checkpointInFolder(dir), dir + "/model.safetensors")
    }
}

/// Layout detection reads the first block's c_attn, by name, not whichever a dictionary yields first: a file whose
/// blocks disagree got a different layout, and a different message, from run to run.
final class LayoutDetectionOrderTests: XCTestCase {
    func testFirstBlockDecidesConv1D() throws {
        let C = 8
        var shapes: [String: [Int]] = ["wte.weight": [50, C], "wpe.weight": [16, C]]
        for l in 0..<12 { shapes["h.\(l).attn.c_attn.weight"] = l == 0 ? [3 * C, C] : [C, 3 * C] }
        for _ in 0..<5 {
            let names = shapes.keys.shuffled()
            let m = try XCTUnwrap(detectLayout(names: names, shapes: shapes, isHDF5: false) as? HFMapper)
            XCTAssertFalse(m.conv1D, "h.0 stores c_attn as nn.Linear's [3C, C]")
        }
        shapes["h.0.attn.c_attn.weight"] = [C, 3 * C]
        shapes["h.10.attn.c_attn.weight"] = [3 * C, C]
        let m = try XCTUnwrap(detectLayout(names: Array(shapes.keys), shapes: shapes, isHDF5: false) as? HFMapper)
        XCTAssertTrue(m.conv1D, "block 0 decides, whatever the other blocks hold")
    }
}

/// KerasHub names with the backbone nested under a task model, as `GPT2CausalLM.save_weights` writes them.
final class KerasHubNestingTests: XCTestCase {
    func testNestedBackboneNamesMapToTheBackbones() {
        let m = KerasHubMapper()
        XCTAssertEqual(m.key("layers/gpt2_backbone/layers/transformer_decoder/_feedforward_layer_norm/vars/0"),
                       "layers/transformer_decoder/_feedforward_layer_norm/vars/0")
        XCTAssertEqual(m.key("layers/reversible_embedding/vars/0"), "layers/reversible_embedding/vars/0")
        XCTAssertEqual(m.key("backbone/layers/position_embedding/vars/0"), "layers/position_embedding/vars/0")
    }
}

/// Python ints wider than 64 bits (pickle's LONG1/LONG4 of more than 8 bytes) are read as their nearest Double: an
/// iter_num of 2⁷⁰ in a nanoGPT dict made the whole checkpoint unreadable. Bytes from Python's pickle.dumps(…, 2).
final class PickleLongTests: XCTestCase {
    struct NoHost: PickleHost {
        func checkGlobal(_ global: String) throws { throw CheckpointError("p", .refused, global) }
        mutating func call(_ global: String, _ args: [PValue], arena: inout PickleArena) throws -> PValue { .none }
        mutating func persistentLoad(_ pid: PValue, arena: inout PickleArena) throws -> PValue { .none }
    }

    func value(_ bytes: [UInt8]) throws -> (PickleArena, PValue) {
        var host = NoHost()
        return try bytes.withUnsafeBytes { try unpickle($0, host: &host, path: "p") }
    }

    func testWideIntegersAreReadAsDoubles() throws {
        XCTAssertEqual(try value([0x80, 0x02, 0x8A, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x2E]).1, .float(0x1p70))     // 2**70
        XCTAssertEqual(try value([0x80, 0x02, 0x8A, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0xC0, 0x2E]).1, .float(-0x1p70))    // -(2**70)
        XCTAssertEqual(try value([0x80, 0x02, 0x8A, 0x02, 0xFF, 0x00, 0x2E]).1, .int(255))                              // 255
        // {'iter_num': 2**70}
        let (arena, root) = try value([0x80, 0x02, 0x7D, 0x71, 0x00, 0x58, 0x08, 0, 0, 0] + Array("iter_num".utf8)
                                      + [0x71, 0x01, 0x8A, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x73, 0x2E])
        XCTAssertNotNil(arena.dict(root))
    }
}
