// What is wrong with a path given as an input file, before anything tries to read it: a read of a
// folder, a FIFO or a device would fail with a system message that names no cause (or block).

import Foundation

/// An input file that cannot be used, as one line: "PATH: problem".
public struct InputError: Error, LocalizedError, Sendable {
    public let path: String
    public let problem: String
    public init(_ path: String, _ problem: String) { self.path = path; self.problem = problem }
    public var errorDescription: String? { "\(path): \(problem)" }
}

/// Why a path is not a readable regular file.
public enum InputFileProblem: Error, Equatable, Sendable {
    case missing
    case directory
    /// A FIFO, socket or device: what it is, e.g. "a FIFO".
    case notRegular(String)
    case unreadable(String)

    /// The problem as the second half of "PATH: problem".
    public var text: String {
        switch self {
        case .missing: return "no such file"
        case .directory: return "is a directory, expected a file"
        case let .notRegular(what): return "is not a regular file (\(what))"
        case let .unreadable(reason): return "cannot read: \(reason)"
        }
    }
}

/// The size of the regular file at `path`, or why it is not one (symbolic links are followed).
public func inputFileSize(_ path: String) -> Result<Int, InputFileProblem> {
    var st = stat()
    guard stat(path, &st) == 0 else {
        return .failure(errno == ENOENT ? .missing : .unreadable(String(cString: strerror(errno))))
    }
    switch st.st_mode & S_IFMT {
    case S_IFREG:
        guard access(path, R_OK) == 0 else { return .failure(.unreadable(String(cString: strerror(errno)))) }
        return .success(Int(st.st_size))
    case S_IFDIR: return .failure(.directory)
    case S_IFIFO: return .failure(.notRegular("a FIFO"))
    case S_IFCHR: return .failure(.notRegular("a character device"))
    case S_IFBLK: return .failure(.notRegular("a block device"))
    case S_IFSOCK: return .failure(.notRegular("a socket"))
    default: return .failure(.notRegular("not a file"))
    }
}

/// The whole content of the input file at `path`, or why it is not a readable regular file (a FIFO such as
/// /dev/stdin or a shell's <(…) is read to its end too when `streams`).
public func readInputFile(_ path: String, streams: Bool = false) -> Result<Data, InputFileProblem> {
    switch inputFileSize(path) {
    case .success: break
    case .failure(.notRegular) where streams: break
    case let .failure(problem): return .failure(problem)
    }
    guard let h = FileHandle(forReadingAtPath: path) else { return .failure(.unreadable(String(cString: strerror(errno)))) }
    defer { try? h.close() }
    do { return .success(try h.readToEnd() ?? Data()) } catch { return .failure(.unreadable(ioReason(error))) }
}

/// Why a Foundation file operation failed, as the system says it: the underlying POSIX error's text
/// ("Input/output error") where Foundation wraps one in a generic "NSCocoaErrorDomain error 256".
public func ioReason(_ error: Error) -> String {
    let e = error as NSError
    if e.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(e.code))) }
    if let under = e.userInfo[NSUnderlyingErrorKey] as? Error {   // an NSError or a POSIXError
        let u = under as NSError
        if u.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(u.code))) }
    }
    return e.localizedDescription
}

/// The identity of some files at one moment (device, inode, size, modification time): taken before a file's
/// content hash and compared once the file has been read, so the hash names the bytes read even when a job
/// saves a new version over the file meanwhile (a rename, or a rewrite in place).
public struct FileStamp: Equatable, Sendable {
    let files: [String: [Int]]

    /// Throws "PATH: cannot read: REASON" when a file cannot be stat'ed.
    public init(paths: [String]) throws {
        var files: [String: [Int]] = [:]
        for p in paths {
            var st = stat()
            guard stat(p, &st) == 0 else { throw InputError(p, InputFileProblem.unreadable(String(cString: strerror(errno))).text) }
            files[p] = [Int(st.st_dev), Int(st.st_ino), Int(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec]
        }
        self.files = files
    }
}

/// `hash()` and `read()`, refused with `changed()` when any file `stamp()` names changed between the stamp (taken
/// before the hash) and the end of the read: the hash then names the bytes read.
public func stampedRead<T>(stamp: () throws -> FileStamp, hash: () throws -> String, read: () throws -> T,
                           changed: () -> Error) throws -> (hash: String, value: T) {
    let before = try stamp()
    let h = try hash()
    let value = try read()
    guard (try? stamp()) == before else { throw changed() }
    return (h, value)
}

/// The content hash of the file at `path` and what `read` makes of it (`stampedRead`).
public func hashedFile<T>(path: String, _ read: () throws -> T) throws -> (hash: String, value: T) {
    try stampedRead(stamp: { try FileStamp(paths: [path]) }, hash: { try fileContentHash(path: path) }, read: read,
                    changed: { InputError(path, "changed while gpt2lab was reading it; run again once it is written") })
}
