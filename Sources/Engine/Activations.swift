// Activations of one forward pass over B windows of T tokens: one allocation, named views.
//
// With `keepAll` (for backward) every layer keeps its own slice, and the attention
// probabilities are stored; without it (scoring) all layers share one slice, so memory does
// not grow with depth, and attention uses a per-thread scratch.

public final class Activations {
    public let b: Int, t: Int
    public let config: GPT2Config
    public let keepAll: Bool
    let storage: UnsafeMutablePointer<Float>
    let total: Int

    // Views. Per-layer tensors are (Ls, B, T, ·) with Ls = L when keepAll, else 1.
    public let encoded: UnsafeMutablePointer<Float>   // (B, T, C)
    public let ln1: UnsafeMutablePointer<Float>       // (Ls, B, T, C)
    public let ln1Mean: UnsafeMutablePointer<Float>   // (Ls, B, T)
    public let ln1Rstd: UnsafeMutablePointer<Float>   // (Ls, B, T)
    public let qkv: UnsafeMutablePointer<Float>       // (Ls, B, T, 3C)
    public let atty: UnsafeMutablePointer<Float>      // (Ls, B, T, C)
    public let att: UnsafeMutablePointer<Float>?      // (L, B, NH, T, T), keepAll only
    public let attproj: UnsafeMutablePointer<Float>   // (Ls, B, T, C)
    public let residual2: UnsafeMutablePointer<Float> // (Ls, B, T, C)
    public let ln2: UnsafeMutablePointer<Float>       // (Ls, B, T, C)
    public let ln2Mean: UnsafeMutablePointer<Float>   // (Ls, B, T)
    public let ln2Rstd: UnsafeMutablePointer<Float>   // (Ls, B, T)
    public let fch: UnsafeMutablePointer<Float>       // (Ls, B, T, F)
    public let fchGelu: UnsafeMutablePointer<Float>   // (Ls, B, T, F)
    public let fcproj: UnsafeMutablePointer<Float>    // (Ls, B, T, C)
    public let residual3: UnsafeMutablePointer<Float> // (Ls, B, T, C)
    public let lnf: UnsafeMutablePointer<Float>       // (B, T, C)
    public let lnfMean: UnsafeMutablePointer<Float>   // (B, T)
    public let lnfRstd: UnsafeMutablePointer<Float>   // (B, T)
    public let nll: UnsafeMutablePointer<Float>       // (B, T) per-position loss, scored rows only

    public init(config: GPT2Config, b: Int, t: Int, keepAll: Bool) {
        self.config = config; self.b = b; self.t = t; self.keepAll = keepAll
        let views: [UnsafeMutablePointer<Float>]
        (storage, total, views) = allocateViews(Self.viewSizes(config: config, b: b, t: t, keepAll: keepAll))
        encoded = views[0]; ln1 = views[1]; ln1Mean = views[2]; ln1Rstd = views[3]; qkv = views[4]
        atty = views[5]; att = keepAll ? views[6] : nil; attproj = views[7]; residual2 = views[8]
        ln2 = views[9]; ln2Mean = views[10]; ln2Rstd = views[11]; fch = views[12]; fchGelu = views[13]
        fcproj = views[14]; residual3 = views[15]; lnf = views[16]; lnfMean = views[17]; lnfRstd = views[18]
        nll = views[19]
    }

    deinit { storage.deallocate() }

    /// Floats of each view, in the order of the properties above.
    static func viewSizes(config: GPT2Config, b: Int, t: Int, keepAll: Bool) -> [Int] {
        let C = config.nEmbd, F = config.nInner, NH = config.nHead
        let Ls = keepAll ? config.nLayer : 1
        let BT = b * t
        return [
            BT * C, Ls * BT * C, Ls * BT, Ls * BT, Ls * BT * 3 * C, Ls * BT * C,
            keepAll ? config.nLayer * b * NH * t * t : 0,
            Ls * BT * C, Ls * BT * C, Ls * BT * C, Ls * BT, Ls * BT, Ls * BT * F, Ls * BT * F,
            Ls * BT * C, Ls * BT * C, BT * C, BT, BT, BT,
        ]
    }

    /// Bytes an `Activations(config:b:t:keepAll:)` would hold, to check before allocating it.
    public static func bytes(config: GPT2Config, b: Int, t: Int, keepAll: Bool) -> Int {
        viewBytes(viewSizes(config: config, b: b, t: t, keepAll: keepAll))
    }

    /// Layer l's views (the shared slice when layers share storage).
    func block(_ l: Int) -> BlockActivations {
        let s = keepAll ? l : 0, BT = b * t, C = config.nEmbd, F = config.nInner
        return BlockActivations(ln1: ln1 + s * BT * C, ln1Mean: ln1Mean + s * BT, ln1Rstd: ln1Rstd + s * BT,
                                qkv: qkv + s * BT * 3 * C, atty: atty + s * BT * C, attproj: attproj + s * BT * C,
                                residual2: residual2 + s * BT * C, ln2: ln2 + s * BT * C, ln2Mean: ln2Mean + s * BT,
                                ln2Rstd: ln2Rstd + s * BT, fch: fch + s * BT * F, fchGelu: fchGelu + s * BT * F,
                                fcproj: fcproj + s * BT * C, residual3: residual3 + s * BT * C)
    }

    /// Layer l's attention probabilities (B, NH, T, T), kept only with `keepAll`.
    func att(_ l: Int) -> UnsafeMutablePointer<Float>? { att.map { $0 + l * b * config.nHead * t * t } }

    /// Bytes held.
    public var bytes: Int { total * MemoryLayout<Float>.size }
}

/// Bytes `allocateViews(sizes)` allocates, to check before allocating.
func viewBytes(_ sizes: [Int]) -> Int { sizes.reduce(0, +) * MemoryLayout<Float>.size }

/// One zeroed allocation cut into consecutive views of `sizes` floats (llm.c's
/// malloc_and_point): returns the storage (the caller deallocates it), its length and the views.
func allocateViews(_ sizes: [Int]) -> (UnsafeMutablePointer<Float>, Int, [UnsafeMutablePointer<Float>]) {
    let total = sizes.reduce(0, +)
    let storage = UnsafeMutablePointer<Float>.allocate(capacity: total)
    storage.initialize(repeating: 0, count: total)
    var p = storage, views: [UnsafeMutablePointer<Float>] = []
    for s in sizes { views.append(p); p += s }
    return (storage, total, views)
}
