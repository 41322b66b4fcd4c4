// A checkpoint's hash must name the bytes that were loaded. A training job that saves its next checkpoint
// over the file while gpt2lab reads it (a rename, or a rewrite in place) would otherwise have one file's
// score stored under the other's hash: in the score cache, in a shard part. The files the hash reads are
// stamped (device, inode, size, modification time) before hashing and checked again once the weights are
// loaded (the loader copies them out of the file); any difference refuses the checkpoint with one line.

import Foundation
import Plumbing

/// The identity of the files a checkpoint's content hash reads, at one moment.
public typealias CheckpointStamp = FileStamp

/// Stamps the files `checkpointContentHash(path:)` reads.
public func checkpointStamp(path: String) throws -> CheckpointStamp {
    let paths = try contentHashFiles(path: path).map { f in f.names.map { f.folder + "/" + $0 } } ?? [path]
    do { return try FileStamp(paths: paths) } catch let e as InputError {
        throw CheckpointError(e.path, .unreadable, e.problem)
    }
}

/// Throws when a file of the checkpoint at `path` is not the one stamped in `since` (replaced, rewritten, added
/// or gone).
public func checkCheckpointUnchanged(path: String, since: CheckpointStamp) throws {
    guard (try? checkpointStamp(path: path)) == since else { throw checkpointChanged(path) }
}

private func checkpointChanged(_ path: String) -> CheckpointError {
    CheckpointError(path, .unreadable, "changed while gpt2lab was reading it (a training job saving a new checkpoint?); "
                    + "run again once it is written")
}

/// The content hash of the checkpoint at `path` and what `load` makes of it, refused when the checkpoint's files
/// changed between the hash and the end of `load` (`stampedRead`): the hash then names the bytes loaded.
public func hashedCheckpoint<T>(path: String, _ load: () throws -> T) throws -> (hash: String, value: T) {
    try stampedRead(stamp: { try checkpointStamp(path: path) }, hash: { try checkpointContentHash(path: path) }, read: load,
                    changed: { checkpointChanged(path) })
}
