// Checks every verb makes on its output paths before any work: the folder is there (or can be
// made) and writable, and whatever already stands at the path is a previous output of the same
// kind — never a user's file or folder, which would be replaced.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What stands at a path.
public enum PathKind: Sendable, Equatable {
    case missing, file, folder, other
}

public func pathKind(_ path: String) -> PathKind {
    var st = stat()
    guard stat(path, &st) == 0 else { return .missing }
    switch st.st_mode & S_IFMT {
    case S_IFREG: return .file
    case S_IFDIR: return .folder
    default: return .other
    }
}

/// Checks that `path` can receive a file: its folder exists and is writable, and nothing is at
/// `path`, or a file `isOurs` recognises as a previous output of the same kind (`what`, e.g.
/// "gpt2lab score part"). Throws one line naming the path.
public func checkFileOutput(_ path: String, what: String, isOurs: (String) -> Bool) throws {
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
    guard pathKind(dir) == .folder else { throw OutputError(path, "folder \(dir) does not exist") }
    guard access(dir, W_OK) == 0 else { throw OutputError(path, "folder \(dir) is not writable") }
    switch pathKind(path) {
    case .missing: return
    case .folder: throw OutputError(path, "is a folder; give a file name for the \(what)")
    case .other: throw OutputError(path, "is not a regular file; give a file name for the \(what)")
    case .file:
        guard isOurs(path) else {
            throw OutputError(path, "exists and is not a \(what) written by gpt2lab; it would be replaced — remove it or choose another name")
        }
    }
}

/// Checks that `path` can receive an output folder: nothing is there (its nearest existing
/// ancestor is a writable folder, so the missing ones can be made), or an empty folder, or a
/// previous output of the same kind (`what`, e.g. "gpt2lab report"): `foreign` lists what in the
/// folder is not such an output, and must list nothing. A file, or a folder holding anything
/// else, is refused: replacing it would lose it.
public func checkFolderOutput(_ path: String, what: String, foreign: (String) -> [String]) throws {
    switch pathKind(path) {
    case .file, .other:
        throw OutputError(path, "is a file, not a folder; give a new or previous \(what) folder")
    case .folder:
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL
        if url.path == "/" || cwd.path.hasPrefix(url.path.hasSuffix("/") ? url.path : url.path + "/") || cwd.path == url.path {
            throw OutputError(path, "is the current folder or one above it; give a new or previous \(what) folder")
        }
        let parent = url.deletingLastPathComponent().path
        guard access(parent, W_OK) == 0 else { throw OutputError(path, "folder \(parent) is not writable") }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        if entries.isEmpty { return }
        let others = foreign(path).sorted()
        if others.isEmpty { return }
        let shown = others.prefix(3).joined(separator: ", ") + (others.count > 3 ? ", …" : "")
        throw OutputError(path, "holds files that are not a \(what) (\(shown)); they would be deleted — choose a new folder or remove them")
    case .missing:
        var ancestor = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
        while pathKind(ancestor.path) == .missing && ancestor.path != "/" { ancestor.deleteLastPathComponent() }
        guard pathKind(ancestor.path) == .folder else {
            throw OutputError(path, "\(ancestor.path) is a file, so the folder cannot be made")
        }
        guard access(ancestor.path, W_OK) == 0 else { throw OutputError(path, "folder \(ancestor.path) is not writable") }
    }
}

/// Checks a cache folder before work: it exists or can be made, and is writable.
public func checkCacheFolder(_ path: String) throws {
    switch pathKind(path) {
    case .folder:
        guard access(path, W_OK) == 0 else { throw OutputError(path, "cache folder is not writable") }
    case .file, .other:
        throw OutputError(path, "is a file, not a cache folder")
    case .missing:
        try checkFolderOutput(path, what: "cache") { _ in [] }
    }
}
