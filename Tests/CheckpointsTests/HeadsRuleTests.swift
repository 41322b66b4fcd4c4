@testable import Checkpoints
import XCTest

/// The head-count rule without a multi-hundred-megabyte GPT-2-sized file: GPT-2's four sizes take
/// heads of width 64 (GPT-2 small 12, medium 16, large 20, XL 25, as OpenAI's configs state), any
/// other size without a stated count is refused, and every stated count must agree.
final class HeadsRuleTests: XCTestCase {
    func testGPT2SizesTakeTheConventionOthersAreRefused() throws {
        for (layers, width, heads) in [(12, 768, 12), (24, 1024, 16), (36, 1280, 20), (48, 1600, 25)] {
            let c = try resolveHeads(explicit: nil, givenBy: .option, fromShape: nil, stated: [], checkpoint: "m", layers: layers, width: width)
            XCTAssertEqual(c.heads, heads)
            XCTAssertEqual(c.source, .gpt2Convention)
        }
        for (layers, width) in [(12, 1024), (4, 64), (6, 768)] {
            XCTAssertThrowsError(try resolveHeads(explicit: nil, givenBy: .option, fromShape: nil, stated: [], checkpoint: "m",
                                                  layers: layers, width: width)) { e in
                XCTAssertEqual((e as? CheckpointError)?.errorDescription,
                               "m: no config states the head count (none in the file, no config.json or meta.json in its folder) and \(layers) layers of width \(width) is not a GPT-2 size; pass --heads N")
            }
            let unneeded = try resolveHeads(explicit: nil, givenBy: .option, fromShape: nil, stated: [], checkpoint: "m",
                                            layers: layers, width: width, needed: false)
            XCTAssertEqual(unneeded.source, .unstated, "a command that never splits heads reads it")
        }
    }

    func testStatedCountsMustAgree() throws {
        var meta = StatedConfig(source: .metaJSON("d/meta.json"), file: "d/meta.json")
        meta.sizes[.heads] = ("n_heads", 4)
        let c = try resolveHeads(explicit: 4, givenBy: .manifest, fromShape: nil, stated: [meta], checkpoint: "m", layers: 12, width: 768)
        XCTAssertEqual(c.heads, 4)
        XCTAssertEqual(c.source, .metaJSON("d/meta.json"), "a stated config outranks GPT-2's convention and the manifest")
        XCTAssertThrowsError(try resolveHeads(explicit: 2, givenBy: .manifest, fromShape: nil, stated: [meta], checkpoint: "m",
                                              layers: 4, width: 64)) { e in
            XCTAssertEqual((e as? CheckpointError)?.problem, "heads = 2 in the manifest contradicts d/meta.json's n_heads = 4")
        }
    }
}
