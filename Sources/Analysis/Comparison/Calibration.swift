// Next-token calibration of one model (`gpt2lab compare`, the report's per-token section): does the
// probability a model gives its most likely next token match how often that token is the one that
// follows? Per scored token, confidence = the largest softmax probability of the next-token
// distribution and correct = (argmax = the target); both come from the comparison's one pass over
// the logits (Engine's `compareDistributions`), so nothing more is materialised.
//
// Expected calibration error over M = 15 equal-width bins (Guo et al., "On Calibration of Modern
// Neural Networks", 2017): bin m holds the tokens with confidence in ((m − 1)/M, m/M], and
//   ECE = Σ_m (n_m / N) · |acc_m − conf_m|,
// acc_m the share of bin m's tokens predicted correctly, conf_m their mean confidence.

import Engine
import Foundation

/// Equal-width confidence bins of the ECE and the reliability diagram.
public let calibrationBins = 15

/// One model's calibration over the scored tokens.
public struct Calibration: Codable, Sendable, Equatable {
    /// Bin m (0-based) holds confidences in (lo, hi] = (m/M, (m + 1)/M] (the first also holds 0).
    public struct Bin: Codable, Sendable, Equatable {
        public var lo: Double
        public var hi: Double
        public var tokens: Int
        /// Mean confidence and accuracy of the bin's tokens; nil when it holds none.
        public var confidence: Double?
        public var accuracy: Double?
    }
    /// Σ_m (n_m/N)·|acc_m − conf_m|, in [0, 1].
    public var ece: Double
    /// Share of tokens whose argmax is the target (top-1 accuracy).
    public var accuracy: Double
    /// Mean confidence over all tokens.
    public var confidence: Double
    public var tokens: Int
    public var bins: [Bin]
}

/// Both models' calibration (`compare`'s A and B).
public struct CalibrationPair: Codable, Sendable, Equatable {
    public var a: Calibration
    public var b: Calibration
}

/// The bin (0..<bins) of confidence `c`: ((m − 1)/M, m/M] is bin m − 1.
func calibrationBin(_ c: Double, bins: Int = calibrationBins) -> Int {
    min(bins - 1, max(0, Int((c * Double(bins)).rounded(.up)) - 1))
}

/// Per-bin token counts, confidence sums and correct counts, filled one token at a time.
struct CalibrationAccumulator {
    private var counts = [Int](repeating: 0, count: calibrationBins)
    private var confidence = [Double](repeating: 0, count: calibrationBins)
    private var correct = [Int](repeating: 0, count: calibrationBins)

    mutating func add(confidence c: Float, correct isCorrect: Bool) {
        let m = calibrationBin(Double(c))
        counts[m] += 1; confidence[m] += Double(c); correct[m] += isCorrect ? 1 : 0
    }

    var result: Calibration {
        let n = counts.reduce(0, +), N = Double(max(n, 1)), M = Double(calibrationBins)
        var ece = 0.0
        let bins = (0..<calibrationBins).map { m -> Calibration.Bin in
            let k = counts[m]
            guard k > 0 else { return .init(lo: Double(m) / M, hi: Double(m + 1) / M, tokens: 0, confidence: nil, accuracy: nil) }
            let conf = confidence[m] / Double(k), acc = Double(correct[m]) / Double(k)
            ece += Double(k) / N * abs(acc - conf)
            return .init(lo: Double(m) / M, hi: Double(m + 1) / M, tokens: k, confidence: conf, accuracy: acc)
        }
        return Calibration(ece: ece, accuracy: Double(correct.reduce(0, +)) / N, confidence: confidence.reduce(0, +) / N,
                           tokens: n, bins: bins)
    }
}

/// Both models' tallies, fed one compared position (Engine's `PositionComparison`) at a time.
struct CalibrationPairAccumulator {
    private var a = CalibrationAccumulator(), b = CalibrationAccumulator()

    mutating func add(_ c: PositionComparison, target: Int32) {
        a.add(confidence: c.confidenceA, correct: c.argmaxA == target)
        b.add(confidence: c.confidenceB, correct: c.argmaxB == target)
    }

    var result: CalibrationPair { CalibrationPair(a: a.result, b: b.result) }
}
