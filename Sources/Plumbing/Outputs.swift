// Outputs every module writes: one way to write a file or a folder atomically. The content is
// produced under a hidden temporary name in the destination's folder, tracked for interrupt
// cleanup (Interrupts.swift), then renamed over the destination, so a reader (or a killed run)
// sees the old output or the new one, never half of one.

#if canImport(Glibc)
@preconcurrency import Glibc   // C's stdout and stderr (standard streams, below)
#endif
import Foundation

/// A file that cannot be read or written; one line naming the file.
public struct OutputError: Error, LocalizedError, Sendable {
    public let path: String
    public let problem: String
    public init(_ path: String, _ problem: String) { self.path = path; self.problem = problem }
    public var errorDescription: String? { "\(path): \(problem)" }
}

/// Writes `path` (normalizedOutputPath) atomically: `produce(tmp)` writes the whole output at `tmp` (a file, or
/// with `folder` a folder it fills), then `tmp` is renamed over `path`. Whatever stands at `path` then is replaced
/// only after `mayReplace(path)` passes: the caller's check that it is a previous output of ours, made again now,
/// since it may have appeared or changed during the work. An existing folder is swapped out (`replaceFolder`) and
/// removed, never "/", the home folder or one holding the current folder. The swap happens under
/// `PendingOutputs.critical`, so an interrupt never leaves the destination missing. Leftovers of a
/// killed writer of `path` are cleared first.
public func writeAtomically(to given: String, folder: Bool = false, mayReplace: (String) throws -> Void = { _ in },
                            _ produce: (_ tmp: String) throws -> Void) throws {
    let path = normalizedOutputPath(given)
    if folder, let protected = protectedFolder(path) { throw OutputError(given, "is \(protected); it is never replaced") }
    let (tmp, token) = try beginOutput(path, folder: folder)
    defer { PendingOutputs.untrack(token) }
    do {
        try produce(tmp)
        if folder && FileManager.default.fileExists(atPath: path) {
            try mayReplace(path)
            try replaceFolder(path, with: tmp)
        } else {
            if pathKind(path) != .missing { try mayReplace(path) }
            guard rename(tmp, path) == 0 else { throw OutputError(path, "cannot rename into place: \(String(cString: strerror(errno)))") }
        }
    } catch {
        try? FileManager.default.removeItem(atPath: tmp)
        throw error
    }
}

/// The first steps of every atomic output at `path` (normalized): its folder must exist ("PATH: folder DIR does not
/// exist"), a killed writer's leftovers are cleared, and the tracked temporary is created.
private func beginOutput(_ path: String, folder: Bool = false) throws -> (path: String, token: Int) {
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw OutputError(path, "folder \(dir) does not exist")
    }
    removeStaleTemporaries(for: path)
    return try createTemporary(for: path, folder: folder)
}

/// One file of a set `writeAtomicallyTogether` writes: where, what may be replaced there, and how to write it.
public struct AtomicOutput {
    public let path: String
    public let mayReplace: (String) throws -> Void
    public let produce: (_ tmp: String) throws -> Void
    public init(path: String, mayReplace: @escaping (String) throws -> Void, produce: @escaping (_ tmp: String) throws -> Void) {
        self.path = path; self.mayReplace = mayReplace; self.produce = produce
    }
}

/// Writes several files as one output (a command's charts): each is produced under its temporary name, then every
/// `mayReplace` check passes and all are renamed into place under one `PendingOutputs.critical`, so an interrupt
/// leaves the old set or the new one, never some of each. A failure before the renames leaves the old set.
public func writeAtomicallyTogether(_ outputs: [AtomicOutput]) throws {
    var made: [(path: String, tmp: String, token: Int)] = []
    defer { for m in made { try? FileManager.default.removeItem(atPath: m.tmp); PendingOutputs.untrack(m.token) } }
    for o in outputs {
        let path = normalizedOutputPath(o.path)
        let (tmp, token) = try beginOutput(path)
        made.append((path, tmp, token))
        try o.produce(tmp)
    }
    try PendingOutputs.critical {
        for (o, m) in zip(outputs, made) where pathKind(m.path) != .missing { try o.mayReplace(m.path) }
        for m in made {
            guard rename(m.tmp, m.path) == 0 else { throw OutputError(m.path, "cannot rename into place: \(String(cString: strerror(errno)))") }
        }
        for m in made { PendingOutputs.untrack(m.token) }   // in place: nothing left for an interrupt to remove
        made = []
    }
}

/// Writes `data` to `path` atomically (flushed to disk before the rename), replacing what is there only when
/// `mayReplace` passes (see above).
public func writeAtomically(_ data: Data, to path: String, mayReplace: (String) throws -> Void = { _ in }) throws {
    try writeAtomically(to: path, mayReplace: mayReplace) { tmp in
        let fd = open(tmp, O_WRONLY | O_TRUNC)
        guard fd >= 0 else { throw OutputError(path, "cannot open a temporary file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var ok = true
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { ok = false; return }
                off += n
            }
        }
        guard ok, fsync(fd) == 0 else { throw OutputError(path, "write failed: \(String(cString: strerror(errno)))") }
    }
}

/// Swaps the finished folder `tmp` in for the existing folder `path`. Where the file system can exchange two
/// paths in one step (Linux's renameat2 with RENAME_EXCHANGE: ext4, xfs, btrfs, tmpfs…), `path` is never missing:
/// the exchange leaves the old folder at `tmp`, still tracked (an interrupt or a later cleanup removes it as a
/// leftover temporary), and it is removed. Elsewhere (NFS, older kernels) two renames: the old one goes to
/// ".NAME.old-PID-…" (restored by `removeStaleTemporaries` if a SIGKILL falls between them), the new one is
/// renamed in, the old one removed; for that moment `path` is missing.
private func replaceFolder(_ path: String, with tmp: String) throws {
    let url = URL(fileURLWithPath: path)
    if !folderExchangeDisabled, PendingOutputs.critical({ exchangePaths(tmp, path) }) {
        removePrevious(tmp, of: url)
        return
    }
    let old = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".old-" + temporarySuffix()
    let oldToken = try PendingOutputs.critical {
        guard rename(path, old) == 0 else {
            throw OutputError(path, "cannot move the old folder aside: \(String(cString: strerror(errno)))")
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            _ = rename(old, path)
            throw OutputError(path, "cannot move the new folder into place: \(String(cString: strerror(e)))")
        }
        return PendingOutputs.track(old)
    }
    removePrevious(old, of: url)
    PendingOutputs.untrack(oldToken)
}

/// Removes the previous version of the folder at `url`, now at `aside`; the new one is in place, so a failure only
/// says what is left.
private func removePrevious(_ aside: String, of url: URL) {
    do { try FileManager.default.removeItem(atPath: aside) } catch {
        printToStderr("gpt2lab: warning: " + oneLine("the previous \(url.lastPathComponent), moved aside to \(aside), could not be removed (\(ioReason(error))); remove it by hand") + "\n")
    }
}

private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32
/// glibc's renameat2 (2.28 and later), looked up at run time: Swift's Glibc module does not declare it.
private let renameAt2: RenameAt2? = dlsym(nil, "renameat2").map { unsafeBitCast($0, to: RenameAt2.self) }

/// Tests set it to take the two renames, which the file systems they run on would never reach otherwise.
nonisolated(unsafe) var folderExchangeDisabled = false

/// Exchanges the existing paths `a` and `b` in one step (RENAME_EXCHANGE); false where the C library, the kernel
/// or the file system cannot (nothing changed then).
func exchangePaths(_ a: String, _ b: String) -> Bool {
    guard let renameAt2 else { return false }
    return renameAt2(AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0
}

/// "PID-SPACE-RANDOM": the owner (for stale-temporary cleanup), the PID space its number belongs to, and a
/// collision-free tail.
private func temporarySuffix() -> String { "\(getpid())-\(pidSpace)-\(UInt32.random(in: 0...UInt32.max))" }

/// Eight hex digits naming the set of processes whose PIDs `kill(pid, 0)` here can test: this boot of this machine
/// (its boot id) and this PID namespace (a container has its own). A folder shared between Slurm nodes or
/// Kubernetes pods (NFS, Lustre) holds other writers' temporaries, whose PIDs mean nothing here.
/// The host name is always part of it: without a readable boot id the namespace's inode alone is the same on every
/// host (the initial PID namespace's is a constant).
let pidSpace: String = {
    var name = [CChar](repeating: 0, count: 256)
    var id = gethostname(&name, name.count - 1) == 0 ? String(cString: name) : ""
    id += ":" + ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "")
    var st = stat()
    if stat("/proc/self/ns/pid", &st) == 0 { id += ":\(st.st_dev):\(st.st_ino)" }
    let h = Array(id.utf8).withUnsafeBytes { xxh64($0) }
    return String(hex64(h).suffix(8))
}()

/// The temporary name an output is written under before it is renamed over `path`:
/// ".NAME.tmp-PID-SPACE-RANDOM" in the same folder (hidden, same file system, owner findable).
public func temporaryName(for path: String) -> String {
    let url = URL(fileURLWithPath: path)
    return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".tmp-" + temporarySuffix()
}

/// Creates the temporary an output is written under (an empty file, or a folder) and tracks it
/// for interrupt cleanup, as one step: a SIGINT/SIGTERM removes it whenever it exists.
public func createTemporary(for path: String, folder: Bool = false) throws -> (path: String, token: Int) {
    try PendingOutputs.critical {
        let tmp = temporaryName(for: path)
        let made: Bool
        if folder {
            made = mkdir(tmp, 0o755) == 0
        } else {
            let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            made = fd >= 0
            if made { close(fd) }
        }
        guard made else { throw OutputError(path, "cannot create a temporary \(folder ? "folder" : "file") \(tmp): \(String(cString: strerror(errno)))") }
        return (tmp, PendingOutputs.track(tmp))
    }
}

/// Cleans up after a writer of `path` that no longer runs (killed between creating its
/// temporary and renaming it): removes its ".NAME.tmp-PID-…" files or folders, and its
/// ".NAME.old-PID-…" (a previous version moved aside while the new one was renamed in) —
/// which goes back to `path` if nothing is there. A live writer's entries are left alone, and so
/// are those of writers in another PID space (another machine or container sharing the folder),
/// which cannot be asked whether they still run. Returns the names removed or restored.
@discardableResult
public func removeStaleTemporaries(for path: String) -> [String] {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path, name = url.lastPathComponent
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
    var cleaned: [String] = []
    for entry in entries.sorted() {
        for kind in [".tmp-", ".old-"] where entry.hasPrefix("." + name + kind) {
            let rest = entry.dropFirst(name.count + 1 + kind.count)
            let parts = rest.split(separator: "-")
            guard let pid = parts.first.flatMap({ Int32($0) }), pid > 0, pid != getpid() else { continue }
            if parts.count > 2, parts[1] != pidSpace { continue }             // another machine's or container's
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }          // its writer still runs
            let full = dir + "/" + entry
            if kind == ".old-", !FileManager.default.fileExists(atPath: path) {
                if rename(full, path) == 0 { cleaned.append(entry) }
            } else if (try? FileManager.default.removeItem(atPath: full)) != nil {
                cleaned.append(entry)
            }
        }
    }
    return cleaned
}

// MARK: standard streams

/// Writes `text` to stderr through C's stdio: a failed write (a closed or full stream) is ignored there, where
/// Foundation's `FileHandle.write` traps with a backtrace.
public func printToStderr(_ text: String) { fputs(text, stderr) }

/// Writes `data` to stdout through C's stdio, the buffer `print` fills, so the two keep their order; a failed
/// write is reported by `finishStdout`, never a trap.
public func writeStdout(_ data: Data) {
    data.withUnsafeBytes { raw in _ = fwrite(raw.baseAddress, 1, raw.count, stdout) }
}

/// Flushes stdout and says why, when any write to it failed (a full disk, a closed pipe): nil when all of it
/// was written. A command whose output was lost must not exit 0.
public func finishStdout() -> String? {
    let flushed = fflush(stdout), code = errno
    guard flushed != 0 || ferror(stdout) != 0 else { return nil }
    return flushed != 0 ? String(cString: strerror(code)) : "a write failed"
}
