// Spectra of every weight matrix of a checkpoint, as WeightWatcher reports them (ESD.swift for the
// eigenvalues and the Marchenko–Pastur edge, PowerLawFit.swift for α), plus gpt2lab's flags and means.
//
// Matrices: per block the query, key and value parts of the fused QKV weight (C×C each: WeightWatcher
// sees them as three layers in Raschka-style checkpoints with separate projections; on an HF, nanoGPT or
// llm.c model it fits the fused c_attn whole, so its attention rows and means differ there, unless
// `QKVSpectra.fused` asks for the whole [3C, C] matrix), the
// attention output projection, the MLP's fc and projection; the token and position embeddings (both
// are `Embedding` layers WeightWatcher analyses); the LM head only when untied (a tied head is the token
// embedding). WeightWatcher's default `max_N = 50000` skips matrices with more rows than that — GPT-2's
// 50257-row token embedding and LM head; we fit them anyway, mark them `wwSkips`, and leave them out of
// the means, so the means are WeightWatcher's summary means.

import Engine
import Foundation

/// Which weight matrix of GPT-2 a spectrum belongs to.
public enum SpectralRole: String, Codable, CaseIterable, Sendable {
    case query = "attn.q", key = "attn.k", value = "attn.v", attentionOutput = "attn.proj"
    /// q, k and v as one [3C, C] matrix (`QKVSpectra.fused`).
    case qkv = "attn.qkv"
    case mlpIn = "mlp.fc", mlpOut = "mlp.proj"
    case tokenEmbedding = "wte", positionEmbedding = "wpe", lmHead = "lm_head"

    /// Roles with one matrix per block, in network order (a checkpoint's spectra hold q, k, v or qkv).
    public static let perBlock: [SpectralRole] = [.qkv, .query, .key, .value, .attentionOutput, .mlpIn, .mlpOut]

    public var title: String {
        switch self {
        case .query: return "Attention query"
        case .key: return "Attention key"
        case .value: return "Attention value"
        case .qkv: return "Attention q, k, v (fused)"
        case .attentionOutput: return "Attention output"
        case .mlpIn: return "MLP in (fc)"
        case .mlpOut: return "MLP out (proj)"
        case .tokenEmbedding: return "Token embedding"
        case .positionEmbedding: return "Position embedding"
        case .lmHead: return "LM head"
        }
    }
}

/// Why a fit is flagged as poor.
public enum SpectraFlag: String, Codable, Sendable {
    /// α < 2: WeightWatcher's "over-trained" warning.
    case alphaBelow2 = "alpha<2"
    /// α > 6: WeightWatcher's "under-trained" warning.
    case alphaAbove6 = "alpha>6"
    /// Fewer than 10 eigenvalues ≥ xmin: α rests on a handful of points.
    case shortTail = "tail<10"
    /// Fewer than 20 eigenvalues above 1e-5: WeightWatcher 0.7.7 uses a small-sample fit we do not.
    case fewEigenvalues = "evals<20"
    /// Fewer than two eigenvalues above 1e-5: no fit.
    case noFit = "no-fit"
}

/// One matrix's spectrum.
public struct MatrixSpectrum: Codable, Sendable {
    /// Block index, nil for embeddings and the LM head.
    public var layer: Int?
    public var role: SpectralRole
    /// Canonical tensor name (HF GPT-2), with [q]/[k]/[v] for the QKV parts.
    public var name: String
    /// Shape as the canonical layout stores it ([out, in]).
    public var shape: [Int]
    /// N ≥ M: the larger and smaller dimension.
    public var n: Int, m: Int
    /// WeightWatcher's λ_max (σ_max²) and the smallest eigenvalue.
    public var lambdaMax: Double, lambdaMin: Double
    /// The power-law fit; nil when there is none.
    public var fit: PowerLawFit?
    /// α̂ = α·log10(λ_max) (WeightWatcher's alpha_weighted).
    public var alphaHat: Double?
    /// ‖W‖_F² / ‖W‖₂² = Σλ / λ_max.
    public var stableRank: Double
    /// The Marchenko–Pastur edge of a randomised W (with WeightWatcher's Tracy–Widom margin) and the
    /// eigenvalues above it.
    public var mpEdge: Double, spikes: Int
    public var flags: [SpectraFlag]
    /// WeightWatcher's defaults skip this matrix (N > 50000); it is left out of the means.
    public var wwSkips: Bool

    enum CodingKeys: String, CodingKey {
        case layer, role, name, shape, n, m, lambdaMax = "lambda_max", lambdaMin = "lambda_min", fit, alphaHat = "alpha_hat"
        case stableRank = "stable_rank", mpEdge = "mp_edge", spikes, flags, wwSkips = "ww_skips"
    }
}

/// Spectra of one checkpoint.
public struct CheckpointSpectra: Codable, Sendable {
    public var checkpoint: String
    public var matrices: [MatrixSpectrum]
    /// Means over the fitted matrices WeightWatcher's defaults analyse (its summary's alpha and alpha_weighted).
    public var meanAlpha: Double?, meanAlphaHat: Double?
    public var meanOver: Int

    enum CodingKeys: String, CodingKey {
        case checkpoint, matrices, meanAlpha = "mean_alpha", meanAlphaHat = "mean_alpha_hat", meanOver = "mean_over"
    }
}

/// How the fused attention weight (c_attn) is analysed: as its three C×C parts q, k and v (every layout alike), or
/// whole, [3C, C], as WeightWatcher fits an HF GPT2LMHeadModel's c_attn.
public enum QKVSpectra: String, CaseIterable, Sendable {
    case split, fused
}

/// WeightWatcher's default max_N.
public let weightWatcherMaxN = 50000

/// The spectrum of W (rows, cols) row-major.
public func matrixSpectrum(_ w: UnsafeBufferPointer<Float>, rows: Int, cols: Int, layer: Int?, role: SpectralRole,
                           name: String) throws -> MatrixSpectrum {
    let evals = try esdEigenvalues(w, rows: rows, cols: cols, what: name)
    let n = max(rows, cols), m = min(rows, cols)
    let lambdaMax = evals.last ?? 0, total = evals.reduce(0, +)
    let fit = fitPowerLaw(evals)
    let mp = marchenkoPasturEdge(evals, n: n, m: m)
    var flags: [SpectraFlag] = []
    if let fit {
        if fit.alpha < 2 { flags.append(.alphaBelow2) }
        if fit.alpha > 6 { flags.append(.alphaAbove6) }
        if fit.tailCount < 10 { flags.append(.shortTail) }
        if fit.fitted < 20 { flags.append(.fewEigenvalues) }
    } else {
        flags.append(.noFit)
    }
    return MatrixSpectrum(layer: layer, role: role, name: name, shape: [rows, cols], n: n, m: m,
                          lambdaMax: lambdaMax, lambdaMin: evals.first ?? 0, fit: fit,
                          alphaHat: fit.map { $0.alpha * log10(lambdaMax) },
                          stableRank: lambdaMax > 0 ? total / lambdaMax : 0, mpEdge: mp.edge, spikes: mp.spikes,
                          flags: flags, wwSkips: n > weightWatcherMaxN)
}

/// The matrices analysed, in network order: (tensor, row offset in floats, rows, cols, layer, role, name).
private func spectralMatrices(_ weights: GPT2Weights, qkv: QKVSpectra)
    -> [(id: TensorID, offset: Int, rows: Int, cols: Int, role: SpectralRole, name: String)] {
    let layout = weights.layout, C = weights.config.nEmbd
    var out: [(id: TensorID, offset: Int, rows: Int, cols: Int, role: SpectralRole, name: String)] = []
    for id in weights.parameterTensors {
        let shape = layout.shapes[id]!
        guard shape.count == 2 else { continue }
        let start = layout.range(id).lowerBound
        switch id.kind {
        case .qkvw where qkv == .fused: out.append((id, start, 3 * C, C, .qkv, id.canonicalName))
        case .qkvw:     // rows [q; k; v], C each
            for (i, (role, tag)) in [(SpectralRole.query, "q"), (.key, "k"), (.value, "v")].enumerated() {
                out.append((id, start + i * C * C, C, C, role, "\(id.canonicalName)[\(tag)]"))
            }
        case .attprojw: out.append((id, start, shape[0], shape[1], .attentionOutput, id.canonicalName))
        case .fcw: out.append((id, start, shape[0], shape[1], .mlpIn, id.canonicalName))
        case .fcprojw: out.append((id, start, shape[0], shape[1], .mlpOut, id.canonicalName))
        case .wte: out.append((id, start, shape[0], shape[1], .tokenEmbedding, id.canonicalName))
        case .wpe: out.append((id, start, shape[0], shape[1], .positionEmbedding, id.canonicalName))
        case .lmHead: out.append((id, start, shape[0], shape[1], .lmHead, id.canonicalName))
        default: continue
        }
    }
    return out
}

/// Spectra of every weight matrix of `weights`. `progress(done, total, name)` is called before each matrix.
public func checkpointSpectra(checkpoint: String, weights: GPT2Weights, qkv: QKVSpectra = .split,
                              progress: (Int, Int, String) -> Void = { _, _, _ in }) throws -> CheckpointSpectra {
    let list = spectralMatrices(weights, qkv: qkv)
    var matrices: [MatrixSpectrum] = []
    try weights.data.withUnsafeBufferPointer { data in
        for (i, t) in list.enumerated() {
            progress(i, list.count, t.name)
            let slice = UnsafeBufferPointer(rebasing: data[t.offset..<(t.offset + t.rows * t.cols)])
            matrices.append(try matrixSpectrum(slice, rows: t.rows, cols: t.cols, layer: t.id.layer, role: t.role,
                                               name: t.name))
        }
    }
    let counted = matrices.filter { !$0.wwSkips && $0.fit != nil }
    let mean = { (f: (MatrixSpectrum) -> Double) in counted.isEmpty ? nil : counted.map(f).reduce(0, +) / Double(counted.count) }
    return CheckpointSpectra(checkpoint: checkpoint, matrices: matrices, meanAlpha: mean { $0.fit!.alpha },
                             meanAlphaHat: mean { $0.alphaHat! }, meanOver: counted.count)
}
