// Step 3 of reading a manifest (Manifest.swift): the `ReportManifest` from values that passed
// their keys' checks, with the checks that need more than one key — run names, the names that
// must resolve to runs, and the hyperparameters read beside each checkpoint.

import Analysis
import Foundation

extension ManifestSource {
    func build(top: CheckedTable, runs runTables: [CheckedTable]) throws -> ReportManifest {
        if let context = top.count("context"), let stride = top.count("stride"), stride > context {
            throw fail("stride", "stride \(stride) is longer than context \(context)")
        }
        var runs: [RunSpec] = []
        for (i, r) in runTables.enumerated() { runs.append(try runSpec(r, run: i, after: runs)) }
        let baseline = top.text("baseline")!
        try checkNames(runs, baseline: baseline, reference: top.text("reference"))
        let title = top.text("title") ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        var manifest = ReportManifest(path: path, title: title, description: top.text("description"), testSet: top.text("test_set")!,
                                      context: top.count("context"), stride: top.count("stride"), skip: top.count("skip") ?? 0,
                                      maxTokens: top.count("max_tokens"), baseline: baseline, reference: top.text("reference"),
                                      referenceNote: top.text("reference_note"), runs: runs, fullVocab: top.flag("full_vocab") ?? false)
        manifest.evals.hellaswag = top.text("hellaswag")
        manifest.evals.lambada = top.text("lambada")
        manifest.evals.limit = top.count("eval_limit")
        if let recipe = top.text("hellaswag_recipe") { _ = manifest.evals.setHellaSwagRecipe(named: recipe) }
        if let ci = top.number("ci") {
            var rule = SequentialRule(halfWidth: ci)
            if let seed = top.count("ci_seed") { rule.seed = UInt64(seed) }
            if let n = top.count("ci_min_windows") { rule.minWindows = n }
            manifest.sequential = rule
        }
        manifest.lossAcrossSteps = top.flag("loss_across_steps") ?? false
        manifest.spectra = top.flag("spectra") ?? false
        manifest.perToken = try perTokenRuns(top.values["per_token"], runs: runs.map(\.name), baseline: baseline)
        if let n = top.count("per_token_max_tokens") { manifest.perTokenMaxTokens = n }
        manifest.frequencies = top.text("frequencies")
        manifest.frequenciesDataset = top.text("frequencies_dataset")
        manifest.interpolate = try interpolationPairs(top.pairs("interpolate") ?? [], runs: runs.map(\.name))
        if let n = top.count("interpolate_points") { manifest.interpolatePoints = n }
        if let n = top.count("interpolate_max_tokens") { manifest.interpolateMaxTokens = n }
        return manifest
    }

    /// Run i's `RunSpec`: its name non-empty and not taken by an earlier run, hyperparameters from
    /// the manifest, gaps filled from a meta.json / train.json beside the checkpoint.
    private func runSpec(_ r: CheckedTable, run i: Int, after earlier: [RunSpec]) throws -> RunSpec {
        let name = r.text("name")!
        guard !name.isEmpty else { throw fail("name", run: i, "[[run]] #\(i + 1) has an empty name") }
        if earlier.contains(where: { $0.name == name }) { throw fail("name", run: i, "duplicate run name '\(name)'") }
        let checkpoint = r.text("checkpoint")!
        var hyper = Hyperparameters()
        hyper.lr = r.number("lr")
        hyper.weightDecay = r.number("weight_decay")
        hyper.batchSize = r.count("batch_size")
        hyper.steps = r.count("steps")
        hyper.tokens = r.count("tokens")
        hyper.schedule = r.text("schedule")
        if !hyper.isEmpty { hyper.source = "manifest" }
        var curve: [(step: Double, loss: Double)] = []
        if let meta = try readRunMeta(besides: checkpoint, manifest: path, given: hyper) {
            hyper = hyper.fillingGaps(from: meta.hyper, source: meta.file)
            curve = meta.curve
        }
        var spec = RunSpec(name: name, checkpoint: checkpoint, description: r.text("description"), seedGroup: r.text("seed_group"),
                           stackOf: r.names("stack_of") ?? [], scores: r.text("scores"), heads: r.count("heads"), hyper: hyper,
                           lossCurve: curve, line: runLine(i))
        spec.stepCheckpoints = r.names("step_checkpoints")
        return spec
    }

    /// baseline, reference, each run's stack_of and seed_group name runs.
    private func checkNames(_ runs: [RunSpec], baseline: String, reference: String?) throws {
        let names = Set(runs.map(\.name))
        let known = "runs are: \(runs.map(\.name).joined(separator: ", "))"
        if !names.contains(baseline) { throw fail("baseline", "baseline '\(baseline)' names no run (\(known))") }
        if let reference, !names.contains(reference) {
            throw fail("reference", "reference '\(reference)' names no run (\(known))")
        }
        if reference == baseline {
            throw fail("reference", "reference '\(baseline)' is the baseline; the reference is the run whose gap to the baseline the others close")
        }
        for (i, r) in runs.enumerated() {
            for p in r.stackOf where !names.contains(p) || p == r.name {
                throw fail("stack_of", run: i, p == r.name ? "run '\(r.name)' lists itself in stack_of"
                                                          : "stack_of of '\(r.name)' names no run '\(p)' (\(known))")
            }
            if let g = r.seedGroup, !names.contains(g) {
                throw fail("seed_group", run: i, "seed_group '\(g)' of '\(r.name)' names no run (\(known))")
            }
            if let g = r.seedGroup, g == r.name || runs.first(where: { $0.name == g })?.seedGroup != nil {
                throw fail("seed_group", run: i, g == r.name ? "run '\(r.name)' names itself as its seed_group; the other seeds name it"
                           : "seed_group '\(g)' of '\(r.name)' has a seed_group of its own; name the group's first run, which has none")
            }
        }
        // One seed-noise band: the baseline's group (or the one group). A second would be silently unused.
        let roots = Set(runs.compactMap(\.seedGroup))
        if roots.count > 1 {
            throw fail("seed_group", "runs form \(roots.count) seed groups (\(roots.sorted().joined(separator: ", "))); the report "
                       + "takes one seed-noise band, from one group: keep one group (the baseline's)")
        }
    }

    /// `interpolate`'s pairs: each names two different runs, and no pair comes twice (either way round).
    private func interpolationPairs(_ pairs: [RunPair], runs: [String]) throws -> [RunPair] {
        for (i, p) in pairs.enumerated() {
            for n in [p.a, p.b] where !runs.contains(n) {
                throw fail("interpolate", "interpolate names no run '\(n)' (runs are: \(runs.joined(separator: ", ")))")
            }
            if p.a == p.b { throw fail("interpolate", "interpolate pairs '\(p.a)' with itself: a path needs two runs") }
            if pairs[..<i].contains(where: { Set([$0.a, $0.b]) == Set([p.a, p.b]) }) {
                throw fail("interpolate", "interpolate names the pair '\(p.a)', '\(p.b)' twice")
            }
        }
        return pairs
    }

    /// The runs `per_token` compares with the baseline, in manifest order.
    private func perTokenRuns(_ value: ManifestValue?, runs: [String], baseline: String) throws -> [String] {
        switch value {
        case let .allRuns(all)?:
            return all ? runs.filter { $0 != baseline } : []
        case let .names(named)?:
            for n in named where !runs.contains(n) {
                throw fail("per_token", "per_token names no run '\(n)' (runs are: \(runs.joined(separator: ", ")))")
            }
            if named.contains(baseline) {
                throw fail("per_token", "per_token names the baseline '\(baseline)': every per-token comparison is against it")
            }
            return runs.filter(named.contains)
        default:
            return []
        }
    }
}
