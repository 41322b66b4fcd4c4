import XCTest
@testable import Engine

final class ParametersTests: XCTestCase {
    func testLayoutCountsGPT2Small() {
        // GPT-2 small (HF): 124,439,808 parameters with the LM head tied to wte.
        let c = GPT2Config(vocabSize: 50257, contextLength: 1024, nEmbd: 768, nLayer: 12, nHead: 12)
        let layout = ParameterLayout(config: c)
        XCTAssertEqual(layout.count - layout.size(TensorID(.lmHead)), 124_439_808)
    }
}
