// The phases that read only a run's own weights: norms (and the parameter count), the smoke-test
// completions, and the Hessian trace.

import Checkpoints
import Engine
import Foundation
import Tokenizer

/// ‖θ‖² by group and per layer (no spectral norms: the report does not show them), and the parameter count.
func normsPhase(_ r: RunState, _ ck: LoadedCheckpoint) -> (norms: CheckpointNormStats, params: Int) {
    var normOptions = NormOptions()
    normOptions.spectral = false
    return (checkpointNormStats(checkpoint: r.name, weights: ck.weights, options: normOptions),
            ck.weights.parameterTensors.reduce(0) { $0 + ck.weights.layout.range($1).count })
}

/// Greedy and one seeded sampled completion of the options' prompt; nil without a prompt.
func completionsPhase(_ r: RunState, _ ck: LoadedCheckpoint, _ s: ComparisonSetup) throws -> RunCompletion? {
    let options = s.options
    guard let prompt = options.completionPrompt, let tokenizer = s.tokenizer else { return nil }
    let model = GPT2Model(weights: ck.weights, backend: CPUBackend(threads: options.threads))
    let greedy = try sampleCompletions(model: model, tokenizer: tokenizer, checkpoint: r.spec.checkpoint, prompt: prompt,
                                       mode: .greedy, maxTokens: options.completionTokens)
    let sample = try sampleCompletions(model: model, tokenizer: tokenizer, checkpoint: r.spec.checkpoint, prompt: prompt,
                                       mode: .sample(temperature: options.sampleTemperature, topK: options.sampleTopK),
                                       maxTokens: options.completionTokens, seed: options.seed)
    return RunCompletion(prompt: prompt, greedy: greedy.samples[0].text, sample: sample.samples[0].text, seed: options.seed)
}

/// Lanczos steps at most for the report's top eigenvalues (as `hessian --eigen-steps`' default).
public let hessianEigenSteps = 100
/// Windows in the report's Hessian batch.
let reportHessianBatch = 4

/// Hutchinson's trace on the first windows of the scored range (split by block and role from the same
/// probes), the top eigenvalues and the density when asked for; nil unless `hessianSamples` > 0.
func hessianPhase(_ name: String, _ ck: LoadedCheckpoint, _ s: ComparisonSetup,
                  events: @escaping (ComparisonEvent) -> Void) throws -> HessianResult? {
    let options = s.options
    guard options.hessianSamples > 0 else { return nil }
    return try hessianAnalysis(weights: ck.weights, backend: CPUBackend(threads: options.threads), device: s.device,
                               tokens: Array(s.tokens.ids[s.plan.tokenRange]), batch: reportHessianBatch, context: s.context,
                               samples: options.hessianSamples, seed: options.seed, topK: options.hessianTop, maxIterations: hessianEigenSteps,
                               density: options.hessianDensity) { stage, done, total in
        if stage != .gradient { events(.hessian(run: name, stage: stage, done: done, total: total)) }
    }
}
