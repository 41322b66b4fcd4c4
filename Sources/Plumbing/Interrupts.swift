// What an interrupted run (SIGINT from Ctrl-C, SIGTERM from a scheduler) leaves behind:
// nothing. Every writer tracks its temporary file or folder while it exists; on SIGINT/SIGTERM
// the tracked temporaries are removed and the process dies of the signal as it would have.
// A rename sequence that must not be cut in half (a report folder swapped for the old one)
// runs under `PendingOutputs.critical`, which the interrupt waits for.
//
// SIGKILL cannot be caught: what a killed writer leaves is cleared by the next writer of the
// same path (`removeStaleTemporaries`).

import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The temporaries being written by this process (files or folders, removed on interrupt).
public enum PendingOutputs {
    private static let lock = NSRecursiveLock()
    nonisolated(unsafe) private static var paths: [Int: String] = [:]
    nonisolated(unsafe) private static var next = 0

    /// Tracks `path` until `untrack` is called with the returned token.
    public static func track(_ path: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        next += 1
        paths[next] = path
        return next
    }

    public static func untrack(_ token: Int) {
        lock.lock(); defer { lock.unlock() }
        paths[token] = nil
    }

    /// Runs `body` with interrupts held off: a SIGINT/SIGTERM that arrives meanwhile is handled
    /// once `body` returns, so renames inside it happen all or not at all.
    public static func critical<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body()
    }

    /// Removes every tracked path, then dies of `sig`. Holds the lock until the process ends
    /// (no writer may start a rename after the cleanup).
    fileprivate static func removeAllAndDie(of sig: Int32) -> Never {
        lock.lock()
        // Another thread may still be writing into a temporary folder (a chart being drawn) while it is removed, so a
        // removal can fail on a file that appeared meanwhile: try again, and count only what is gone.
        var removed = 0, left: [String] = []
        for p in paths.values {
            for attempt in 0..<20 where FileManager.default.fileExists(atPath: p) {
                if attempt > 0 { usleep(10_000) }
                try? FileManager.default.removeItem(atPath: p)
            }
            if FileManager.default.fileExists(atPath: p) { left.append(p) } else { removed += 1 }
        }
        let name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)"
        var what = removed == 0 ? "" : "; removed \(removed) partial output\(removed == 1 ? "" : "s")"
        if !left.isEmpty { what += "; could not remove \(left.joined(separator: ", ")) (the next run of the same output will)" }
        let line = "\ngpt2lab: interrupted by \(name)\(what)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        // Die of the signal (the shell and schedulers see 128+N), as without a handler.
        // raise() on this thread with the signal unblocked here delivers it before raise returns; a
        // kill() of the process could land on another thread after _exit already ran (seen under load:
        // exit status 143 instead of death by SIGTERM).
        Glibc.signal(sig, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, sig)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(sig)
        _exit(128 + sig)
    }
}

nonisolated(unsafe) private var interruptSources: [DispatchSourceSignal] = []

/// Installs the SIGINT/SIGTERM cleanup (the CLI does this once at start). Idempotent.
public func installInterruptCleanup() {
    guard interruptSources.isEmpty else { return }
    let queue = DispatchQueue(label: "gpt2lab.interrupts")
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)                       // delivered to the dispatch source instead
        let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
        source.setEventHandler { PendingOutputs.removeAllAndDie(of: sig) }
        source.resume()
        interruptSources.append(source)
    }
}
