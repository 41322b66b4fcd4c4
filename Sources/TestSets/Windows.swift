// HF's strided-window perplexity recipe, with every target scored exactly once.
//
// Over the token range [lo, hi) (after skip/maxTokens), window k starts at lo + k·S and
// takes inputs [start, min(start + T, hi − 1)), each predicting the next token. A window
// scores only the targets no earlier window scored (HF's `trg_len = end_loc − prev_end_loc`),
// so when S < T its first T − S positions are context only. The plan stops after the window
// that reaches the end. S = T gives disjoint windows with a shorter last one.

/// One window: inputs tokens[start ..< start + length], targets shifted by one.
public struct Window: Sendable, Equatable {
    public let start: Int
    /// T for every window but possibly the last.
    public let length: Int
    /// First position inside the window whose prediction is scored.
    public let scoredFrom: Int
    public var scoredCount: Int { length - scoredFrom }
}

public struct WindowPlan: Sendable, Equatable {
    /// T: inputs per window.
    public let context: Int
    /// S: distance between window starts.
    public let stride: Int
    /// Tokens used, after skip/maxTokens.
    public let tokenRange: Range<Int>
    public let windows: [Window]
    /// maxTokens when it cut the test set short; nil when every token after skip is used, so a limit at or past
    /// the end names the same windows (and the same cache entry, shard identity and bits per byte) as none.
    public let limit: Int?

    /// Whether the windows cover the whole test set (no skip, no limit that cut it): bits per byte need that.
    public var coversWholeText: Bool { tokenRange.lowerBound == 0 && limit == nil }

    /// Targets scored in total: tokenRange.count − 1.
    public var tokensScored: Int { windows.reduce(0) { $0 + $1.scoredCount } }

    public init(tokenCount n: Int, context T: Int, stride S: Int, skip: Int = 0, maxTokens: Int? = nil) throws {
        guard T >= 1 else { throw TestSetError.badWindows("context must be positive, got \(T)") }
        guard (1...T).contains(S) else { throw TestSetError.badWindows("stride must be in 1...\(T) (the context), got \(S)") }
        guard skip >= 0 else { throw TestSetError.badWindows("skip must be non-negative, got \(skip)") }
        if let maxTokens, maxTokens < 2 { throw TestSetError.badWindows("max tokens must be at least 2, got \(maxTokens)") }
        // Saturating: skip + maxTokens and start + T may not fit in an Int (any Int is accepted).
        let lo = skip, hi = min(n, maxTokens.map { $0 > n - skip ? n : skip + $0 } ?? n)
        guard hi - lo >= 2 else {
            throw TestSetError.badWindows("\(max(0, hi - lo)) token(s) left after skipping \(skip) of \(n); need at least 2")
        }
        var windows: [Window] = []
        var prevEnd = lo                       // inputs before this were scored already
        var start = lo
        while true {
            let end = start + min(T, hi - 1 - start)
            windows.append(Window(start: start, length: end - start, scoredFrom: prevEnd - start))
            prevEnd = end
            if end == hi - 1 { break }
            start += S
        }
        context = T; stride = S; tokenRange = lo..<hi; self.windows = windows; limit = hi < n ? maxTokens : nil
    }
}
