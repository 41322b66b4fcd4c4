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

/// `path` made absolute (against the current folder) with its "." and ".." and empty components resolved by
/// name, as a shell's `cd` does (after a symbolic link, ".." is the link's folder), and nothing else: "~" stays a
/// folder named "~", as the kernel reads it (Foundation's URL would expand it to the home folder). The path an
/// output is checked at and the path it is written to are this one path: checked as given, "reports/.." under a
/// missing "reports" was a new folder and "~" a missing one; written through URL, both were an existing folder,
/// which was replaced. A relative path stays relative when the current folder no longer exists (the checks refuse it).
public func normalizedOutputPath(_ path: String) -> String {
    let cwd = FileManager.default.currentDirectoryPath
    if !path.hasPrefix("/") && cwd.isEmpty { return path }
    let absolute = path.hasPrefix("/") ? path : cwd + "/" + path
    var parts: [Substring] = []
    for c in absolute.split(separator: "/") {
        if c == "." { continue }
        if c == ".." { _ = parts.popLast(); continue }
        parts.append(c)
    }
    return "/" + parts.joined(separator: "/")
}

/// An output path the user meant otherwise: empty, starting with "~", which only a shell expands (quoted, or
/// from a config file, it would be a folder named "~" here), relative with no current folder, or a symbolic link.
private func checkOutputSpelling(_ given: String, what: String) throws {
    if given.isEmpty { throw OutputError("''", "is an empty path; give a \(what) path") }
    if !given.hasPrefix("/") && FileManager.default.currentDirectoryPath.isEmpty {
        throw OutputError(given, "is relative, and the current folder no longer exists; give an absolute \(what) path")
    }
    // A link at the output path is the user's: replacing it would swap it for a folder or file (and leave what it
    // points to as it was); writing through it would change a path the user did not name.
    var st = stat()
    if lstat(given, &st) == 0, st.st_mode & S_IFMT == S_IFLNK {
        let target = realPath(given)
        throw OutputError(given, "is a symbolic link" + (target.map { " (to \($0))" } ?? " to nothing") + "; give the \(what) path itself")
    }
    if given.hasPrefix("~") {
        throw OutputError(given, "starts with ~, which only a shell expands; give the \(what) path without quotes, or spell out the home folder")
    }
}

/// `path` with every symbolic link resolved (realpath), or nil when it does not exist.
private func realPath(_ path: String) -> String? {
    guard let r = realpath(path, nil) else { return nil }
    defer { free(r) }
    return String(cString: r)
}

/// The home folders: $HOME's and the account's (they differ under sudo -E and in some batch jobs), by name and
/// with their links resolved.
private func homeFolders() -> Set<String> {
    var homes: [String] = [NSHomeDirectory()]
    if let h = ProcessInfo.processInfo.environment["HOME"], !h.isEmpty { homes.append(h) }
    if let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { homes.append(String(cString: dir)) }
    return Set(homes.map(normalizedOutputPath) + homes.compactMap(realPath))
}

/// What `path` is when it is "/", the home folder, or the current folder or one above it (never an output
/// folder: replacing it would lose everything in it), by name or through symbolic links; nil for any other path.
public func protectedFolder(_ path: String) -> String? {
    let names = [normalizedOutputPath(path)] + (realPath(path).map { [$0] } ?? [])
    let cwd = FileManager.default.currentDirectoryPath
    let cwds = cwd.isEmpty ? [] : [normalizedOutputPath(cwd)] + (realPath(cwd).map { [$0] } ?? [])
    let homes = homeFolders()
    for p in names {
        if p == "/" { return "the root folder" }
        if homes.contains(p) { return "the home folder" }
        if cwds.contains(where: { $0 == p || $0.hasPrefix(p + "/") }) { return "the current folder or one above it" }
    }
    return nil
}

/// Checks that `path` can receive a file: its folder exists and is writable, and nothing is at
/// `path`, or a file `isOurs` recognises as a previous output of the same kind (`what`, e.g.
/// "gpt2lab score part"). Throws one line naming the path.
public func checkFileOutput(_ given: String, what: String, isOurs: (String) -> Bool) throws {
    try checkOutputSpelling(given, what: what)
    guard !given.hasSuffix("/") else { throw OutputError(given, "ends in /: give a file name for the \(what)") }
    let path = normalizedOutputPath(given)
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
    guard pathKind(dir) == .folder else { throw OutputError(given, "folder \(dir) does not exist") }
    guard access(dir, W_OK) == 0 else { throw OutputError(given, "folder \(dir) is not writable") }
    switch pathKind(path) {
    case .missing: return
    case .folder: throw OutputError(given, "is a folder; give a file name for the \(what)")
    case .other: throw OutputError(given, "is not a regular file; give a file name for the \(what)")
    case .file:
        guard isOurs(path) else {
            throw OutputError(given, "exists and is not a \(what) written by gpt2lab; it would be replaced — remove it or choose another name")
        }
    }
}

/// Checks that `path` can receive an output folder: nothing is there (its nearest existing
/// ancestor is a writable folder, so the missing ones can be made), or an empty folder, or a
/// previous output of the same kind (`what`, e.g. "gpt2lab report"): `foreign` lists what in the
/// folder is not such an output, and must list nothing. A file, or a folder holding anything
/// else, is refused: replacing it would lose it.
public func checkFolderOutput(_ given: String, what: String, foreign: (String) -> [String]) throws {
    try checkOutputSpelling(given, what: "\(what) folder")
    let path = normalizedOutputPath(given)
    if let protected = protectedFolder(path) { throw OutputError(given, "is \(protected); give a new or previous \(what) folder") }
    switch pathKind(path) {
    case .file, .other:
        throw OutputError(given, "is a file, not a folder; give a new or previous \(what) folder")
    case .folder:
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard access(parent, W_OK) == 0 else { throw OutputError(given, "folder \(parent) is not writable") }
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw OutputError(given, "cannot list the folder (\(ioReason(error))); give a new or previous \(what) folder")
        }
        if entries.isEmpty { return }
        let others = foreign(path).sorted()
        if others.isEmpty {
            // Replacing a previous output removes its files, which needs the folder itself writable.
            guard access(path, W_OK | X_OK) == 0 else {
                throw OutputError(given, "is a previous \(what) in a folder that is not writable, so it cannot be replaced; make it writable or choose another folder")
            }
            return
        }
        let shown = others.prefix(3).joined(separator: ", ") + (others.count > 3 ? ", …" : "")
        throw OutputError(given, "holds files that are not a \(what) (\(shown)); they would be deleted — choose a new folder or remove them")
    case .missing:
        var ancestor = URL(fileURLWithPath: path).deletingLastPathComponent()
        while pathKind(ancestor.path) == .missing && ancestor.path != "/" { ancestor.deleteLastPathComponent() }
        guard pathKind(ancestor.path) == .folder else {
            throw OutputError(given, "\(ancestor.path) is a file, so the folder cannot be made")
        }
        guard access(ancestor.path, W_OK) == 0 else { throw OutputError(given, "folder \(ancestor.path) is not writable") }
    }
}

/// Checks a cache folder before work: it exists or can be made, and is writable.
public func checkCacheFolder(_ path: String) throws {
    try checkOutputSpelling(path, what: "cache folder")
    switch pathKind(path) {
    case .folder:
        guard access(path, W_OK) == 0 else { throw OutputError(path, "cache folder is not writable") }
    case .file, .other:
        throw OutputError(path, "is a file, not a cache folder")
    case .missing:
        try checkFolderOutput(path, what: "cache") { _ in [] }
    }
}
