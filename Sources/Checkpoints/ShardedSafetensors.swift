// HF sharded safetensors (`save_pretrained` above max_shard_size): a folder holding
// `model.safetensors.index.json` — {"metadata": {…}, "weight_map": {tensor: shard file}} — and
// the shards it names. Opened as the folder (Store.swift's checkpointInFolder) or as the index file; every shard is mapped (not
// copied) through SafetensorsFile, and every tensor the index lists must be in its shard.

import Foundation
import Plumbing

final class ShardedSafetensors {
    /// Most shards accepted.
    static let maxShards = 10_000

    let path: String
    /// The folder the shards (and config.json) are in.
    let directory: String
    let tensors: [SourceTensor]
    let aliases: [String: String]
    private let shards: [SafetensorsFile]
    /// Tensor (or alias) name → index into `shards`.
    private let shardOf: [String: Int]

    /// `path`: the index file (a folder is resolved to it by `checkpointInFolder`).
    init(path: String) throws {
        let index = path
        self.path = path
        directory = (index as NSString).deletingLastPathComponent
        let size = try regularFileSize(index)
        guard size <= SafetensorsFile.maxHeaderBytes else { throw CheckpointError(index, .badHeader, "index of \(size) bytes exceeds the 100 MB limit") }
        let data: Data
        switch readInputFile(index) {
        case let .success(d): data = d
        case let .failure(problem): throw CheckpointError(index, .unreadable, problem.text)
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw CheckpointError(index, .badHeader, "is not valid JSON")
        }
        guard let map = (object as? [String: Any])?["weight_map"] as? [String: Any], !map.isEmpty else {
            throw CheckpointError(index, .badHeader, "has no \"weight_map\" object of tensor → shard file")
        }
        var files: [String] = [], fileIndex: [String: Int] = [:], wanted: [String: Int] = [:]
        for (tensor, value) in map {
            // A shard is a file beside the index: a plain name, never a path out of the folder.
            guard let f = value as? String, !f.isEmpty, !f.contains("/"), f != "..", f != "." else {
                throw CheckpointError(index, .badHeader, "weight_map['\(tensor)'] is not a shard file name beside the index")
            }
            if fileIndex[f] == nil {
                guard files.count < Self.maxShards else { throw CheckpointError(index, .badHeader, "more than \(Self.maxShards) shards") }
                fileIndex[f] = files.count; files.append(f)
            }
            wanted[tensor] = fileIndex[f]!
        }
        let dir = directory.isEmpty ? "." : directory
        shards = try files.map { try SafetensorsFile(path: dir + "/" + $0) }
        var list: [SourceTensor] = [], aliases: [String: String] = [:], shardOf: [String: Int] = [:]
        for (i, s) in shards.enumerated() {
            for n in s.tensorNames {
                guard let info = s.info(n) else { continue }
                guard shardOf[n] == nil else { throw CheckpointError(s.path, .unexpectedTensors, "tensor '\(n)' is also in \(shards[shardOf[n]!].path)") }
                shardOf[n] = i
                list.append(SourceTensor(name: n, shape: info.shape, dtype: info.dtype.rawValue))
            }
            for (a, t) in s.aliases where shardOf[a] == nil { aliases[a] = t; shardOf[a] = i }
        }
        for (tensor, i) in wanted.sorted(by: { $0.key < $1.key }) where shardOf[tensor] != i {
            throw CheckpointError(shards[i].path, .missingTensors, "the index places '\(tensor)' in this shard, which does not hold it")
        }
        tensors = list; self.aliases = aliases; self.shardOf = shardOf
    }

    func shard(_ name: String) throws -> SafetensorsFile {
        guard let i = shardOf[name] else { throw CheckpointError(path, .missingTensors, "no tensor named '\(name)'") }
        return shards[i]
    }
}
