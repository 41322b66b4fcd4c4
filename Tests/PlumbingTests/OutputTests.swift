@testable import Plumbing
import Foundation
import XCTest

/// Outputs appear whole or not at all; what a killed writer leaves behind is hidden and is
/// removed by the next write of the same file.
final class OutputTests: XCTestCase {
    /// The pid of a process that has exited.
    func deadPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run(); p.waitUntilExit()
        return p.processIdentifier
    }

    func testStaleTemporariesRemovedLiveOnesKept() throws {
        let dir = try tempDir(self), path = dir + "/part.json"
        try writeAtomically(Data("old".utf8), to: path)
        let dead = try deadPID()
        let ours = URL(fileURLWithPath: temporaryName(for: path)).lastPathComponent.split(separator: "-").dropFirst(2).first.map(String.init) ?? "?"
        let stale = dir + "/.part.json.tmp-\(dead)-\(ours)-12345", live = dir + "/.part.json.tmp-\(getppid())-\(ours)-1"
        let other = dir + "/.other.json.tmp-\(dead)-\(ours)-1", legacy = dir + "/.part.json.tmp-\(dead)-7"
        // a writer on another node sharing the folder: its PID means nothing here, whatever runs under it
        let elsewhere = dir + "/.part.json.tmp-\(dead)-\(ours == "00000000" ? "00000001" : "00000000")-3"
        for f in [stale, live, other, legacy, elsewhere] { try Data("half".utf8).write(to: URL(fileURLWithPath: f)) }
        XCTAssertTrue(temporaryName(for: path).hasPrefix(dir + "/.part.json.tmp-\(getpid())-\(ours)-"))
        XCTAssertEqual(ours.count, 8)
        try writeAtomically(Data("new".utf8), to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new")
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertFalse(FileManager.default.fileExists(atPath: legacy))  // an older gpt2lab's name: PID only
        XCTAssertTrue(FileManager.default.fileExists(atPath: elsewhere))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live))     // its writer (our parent) still runs
        XCTAssertTrue(FileManager.default.fileExists(atPath: other))    // another file's temporary
    }

    func testFolderIsReplacedWholeOrNotAtAll() throws {
        try folderIsReplacedWholeOrNotAtAll()
        // the two renames where the file system cannot exchange two paths (NFS)
        folderExchangeDisabled = true
        defer { folderExchangeDisabled = false }
        try folderIsReplacedWholeOrNotAtAll()
    }

    /// A run killed between the two renames leaves the previous folder aside as ".NAME.old-PID-SPACE-…" and nothing at
    /// the destination: the next write puts it back before anything else, and with a destination in place removes it.
    func testFolderMovedAsideByAKilledRunIsPutBack() throws {
        let dir = try tempDir(self), path = dir + "/report"
        let space = URL(fileURLWithPath: temporaryName(for: path)).lastPathComponent.dropFirst(".report.tmp-".count).split(separator: "-")[1]
        let aside = dir + "/.report.old-\(try deadPID())-\(space)-1"
        try FileManager.default.createDirectory(atPath: aside, withIntermediateDirectories: false)
        try Data("previous".utf8).write(to: URL(fileURLWithPath: aside + "/index.html"))
        XCTAssertEqual(removeStaleTemporaries(for: path), [URL(fileURLWithPath: aside).lastPathComponent])
        XCTAssertEqual(try String(contentsOfFile: path + "/index.html", encoding: .utf8), "previous")
        XCTAssertFalse(FileManager.default.fileExists(atPath: aside))
        // with the destination there, a leftover aside is only removed
        try FileManager.default.createDirectory(atPath: aside, withIntermediateDirectories: false)
        XCTAssertEqual(removeStaleTemporaries(for: path).count, 1)
        XCTAssertEqual(try String(contentsOfFile: path + "/index.html", encoding: .utf8), "previous")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["report"])
    }

    func folderIsReplacedWholeOrNotAtAll() throws {
        let dir = try tempDir(self) + "/\(folderExchangeDisabled ? "renames" : "exchange")", path = dir + "/report"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try writeAtomically(to: path, folder: true) { tmp in try Data("1".utf8).write(to: URL(fileURLWithPath: tmp + "/a")) }
        try writeAtomically(to: path, folder: true) { tmp in try Data("2".utf8).write(to: URL(fileURLWithPath: tmp + "/b")) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path), ["b"])
        struct Boom: Error {}
        XCTAssertThrowsError(try writeAtomically(to: path, folder: true) { tmp in
            try Data("3".utf8).write(to: URL(fileURLWithPath: tmp + "/c")); throw Boom()
        })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path), ["b"])   // the old one, intact
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["report"]) // no temporary left
    }

    /// A reader (a web server, a browser reloading) never finds the report folder missing while it is replaced: the
    /// old and new folders are exchanged in one step. Skips where the file system cannot exchange two paths.
    func testFolderIsNeverMissingWhileReplaced() throws {
        let dir = try tempDir(self), path = dir + "/report"
        for d in ["x", "y"] { try FileManager.default.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: false) }
        guard exchangePaths(dir + "/x", dir + "/y") else {
            throw XCTSkip("this file system cannot exchange two paths (RENAME_EXCHANGE); the report is swapped by two renames here")
        }
        try writeAtomically(to: path, folder: true) { tmp in try Data("0".utf8).write(to: URL(fileURLWithPath: tmp + "/index.html")) }
        final class Watch: @unchecked Sendable {
            let lock = NSLock(); var stop = false, looks = 0, misses = 0
        }
        let watch = Watch(), done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var looks = 0, misses = 0
            while !watch.lock.withLock({ watch.stop }) {
                for _ in 0..<64 { looks += 1; if access(path, F_OK) != 0 { misses += 1 } }
            }
            watch.lock.withLock { watch.looks = looks; watch.misses = misses }
            done.signal()
        }
        for i in 1...200 {
            try writeAtomically(to: path, folder: true) { tmp in try Data("\(i)".utf8).write(to: URL(fileURLWithPath: tmp + "/index.html")) }
        }
        watch.lock.withLock { watch.stop = true }
        done.wait()
        XCTAssertGreaterThan(watch.looks, 1000)
        XCTAssertEqual(watch.misses, 0, "the report folder was missing \(watch.misses) of \(watch.looks) times it was looked at")
        XCTAssertEqual(try String(contentsOfFile: path + "/index.html", encoding: .utf8), "200")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["report", "x", "y"])   // nothing left aside
    }

    func testMissingFolderIsOneLine() {
        XCTAssertThrowsError(try writeAtomically(Data(), to: "/nonexistent-gpt2lab/x.json")) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription, "/nonexistent-gpt2lab/x.json: folder /nonexistent-gpt2lab does not exist")
        }
    }

    func tempDir(_ test: XCTestCase) throws -> String {
        let dir = NSTemporaryDirectory() + "gpt2lab-plumbing-\(getpid())-\(test.name.filter { $0.isLetter })"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func testDecimalsNeverShowNegativeZero() {
        XCTAssertEqual(formatDecimal(-0.00001, decimals: 4), "-1.0e-05")
        XCTAssertEqual(formatDecimal(-0.00001, decimals: 4, plus: true), "-1.0e-05")
        XCTAssertEqual(formatDecimal(0.00002, decimals: 4, plus: true), "+2.0e-05")
        XCTAssertEqual(formatDecimal(0, decimals: 4, plus: true), "0.0000")
        XCTAssertEqual(formatDecimal(-0.0, decimals: 4), "0.0000")
        XCTAssertEqual(formatDecimal(-0.01234, decimals: 4, plus: true), "-0.0123")
        XCTAssertEqual(formatDecimal(6.10959, decimals: 4), "6.1096")
    }

    /// x ± u: u to two significant digits, x to u's last decimal, no exponent (the report printed
    /// "2516 ± 2.1e+02"); values worked by hand.
    func testMeasurementsRoundToTheirUncertainty() {
        XCTAssertEqual(formatMeasurement(2516.3, 210.4), "2516 ± 210")
        XCTAssertEqual(formatMeasurement(316.2, 21.4), "316 ± 21")
        XCTAssertEqual(formatMeasurement(26.94523, 0.01234), "26.945 ± 0.012")
        XCTAssertEqual(formatMeasurement(3.5, 1.2), "3.5 ± 1.2")
        XCTAssertEqual(formatMeasurement(296.06, .nan), "296.1")
    }

    func testOutputChecksRefuseUserFilesAndFolders() throws {
        let dir = NSTemporaryDirectory() + "gpt2lab-checks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/full", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/full/a.txt"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/f"))
        XCTAssertNoThrow(try checkFolderOutput(dir + "/new/deeper", what: "w") { _ in ["x"] })
        XCTAssertThrowsError(try checkFolderOutput(dir + "/full", what: "w") { _ in ["a.txt"] })
        XCTAssertNoThrow(try checkFolderOutput(dir + "/full", what: "w") { _ in [] })
        XCTAssertThrowsError(try checkFolderOutput(dir + "/f", what: "w") { _ in [] })
        XCTAssertThrowsError(try checkFolderOutput(dir + "/f/sub", what: "w") { _ in [] })
        XCTAssertNoThrow(try checkFileOutput(dir + "/new.json", what: "w") { _ in false })
        XCTAssertThrowsError(try checkFileOutput(dir + "/f", what: "w") { _ in false })
        XCTAssertNoThrow(try checkFileOutput(dir + "/f", what: "w") { _ in true })
        XCTAssertThrowsError(try checkFileOutput(dir + "/full", what: "w") { _ in true })
        XCTAssertThrowsError(try checkFileOutput(dir + "/missing/x.json", what: "w") { _ in true })
        XCTAssertThrowsError(try checkCacheFolder(dir + "/f"))
        XCTAssertNoThrow(try checkCacheFolder(dir + "/cache/scores"))
    }

    /// The path checked is the path written: "nosuch/../.." from a subfolder is the project folder above it, never
    /// a new folder (a report written there replaced the project; "~" unexpanded, the home folder). "/", the home
    /// folder and the current folder or any above it are refused; so are "", and "~…", which only a shell expands.
    func testOutputPathIsCheckedWhereItIsWritten() throws {
        let dir = try tempDir(self), cwd = FileManager.default.currentDirectoryPath
        try FileManager.default.createDirectory(atPath: dir + "/proj/sub", withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/proj/thesis.tex"))
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir + "/proj/sub"))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(cwd) }
        let here = FileManager.default.currentDirectoryPath
        XCTAssertEqual(normalizedOutputPath("a/./b/../c/"), here + "/a/c")
        XCTAssertEqual(normalizedOutputPath("~"), here + "/~")     // as the kernel reads it
        XCTAssertEqual(normalizedOutputPath("/x/../../y"), "/y")
        for out in ["nosuch/../..", "nosuch/..", ".", "", "~", "~/r", "/"] {
            XCTAssertThrowsError(try checkFolderOutput(out, what: "report") { _ in [] }, out) { e in
                let text = (e as? LocalizedError)?.errorDescription ?? ""
                XCTAssertTrue(text.contains("current folder or one above it") || text.contains("only a shell expands")
                              || text.contains("empty path") || text.contains("root folder"), text)
            }
        }
        XCTAssertThrowsError(try writeAtomically(to: "nosuch/../..", folder: true) { _ in })
        XCTAssertEqual(try String(contentsOfFile: dir + "/proj/thesis.tex", encoding: .utf8), "mine")
        // Through a symbolic link the current folder is still the current folder; a link to nothing is refused.
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: dir + "/proj")
        XCTAssertEqual(protectedFolder(dir + "/link/sub"), "the current folder or one above it")
        try FileManager.default.createSymbolicLink(atPath: dir + "/dangling", withDestinationPath: dir + "/nothing")
        XCTAssertThrowsError(try checkFolderOutput(dir + "/dangling", what: "report") { _ in [] }) { e in
            XCTAssertTrue(((e as? LocalizedError)?.errorDescription ?? "").contains("a symbolic link to nothing"))
        }
        XCTAssertThrowsError(try checkFolderOutput(dir + "/link", what: "report") { _ in [] }) { e in
            XCTAssertTrue(((e as? LocalizedError)?.errorDescription ?? "").contains("is a symbolic link (to "))
        }
        XCTAssertNoThrow(try checkFolderOutput(dir + "/link/new", what: "report") { _ in [] }, "a link above the output is fine")
        let home = ProcessInfo.processInfo.environment["HOME"]
        setenv("HOME", dir + "/proj", 1)
        defer { if let home { setenv("HOME", home, 1) } else { unsetenv("HOME") } }
        XCTAssertEqual(protectedFolder(dir + "/proj"), "the home folder")
        XCTAssertNil(protectedFolder(dir + "/proj/other"))
        XCTAssertThrowsError(try checkFileOutput("~/x.json", what: "part") { _ in true })
        XCTAssertThrowsError(try checkFileOutput("out/", what: "part") { _ in true })
    }

    /// A file that appears at the destination during the work is replaced only if `mayReplace` accepts it.
    func testOutputThatAppearsDuringTheWorkIsRechecked() throws {
        let dir = try tempDir(self), path = dir + "/late.json"
        struct NotOurs: Error {}
        XCTAssertNoThrow(try writeAtomically(Data("part".utf8), to: path, mayReplace: { _ in throw NotOurs() }))
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "part", "nothing stood there: written")
        try Data("user".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try writeAtomically(Data("part2".utf8), to: path, mayReplace: { _ in throw NotOurs() }))
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "user")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["late.json"], "no temporary left")
    }
}

/// A command's charts as one output: a failure while producing any of them, or a refusal to replace any, leaves
/// every old file as it was and no temporary behind; otherwise all are replaced.
final class AtomicSetTests: XCTestCase {
    func testASetIsReplacedWholeOrNotAtAll() throws {
        let dir = NSTemporaryDirectory() + "gpt2lab-set-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.png", b = dir + "/b.png"
        try Data("old a".utf8).write(to: URL(fileURLWithPath: a)); try Data("old b".utf8).write(to: URL(fileURLWithPath: b))
        struct Refused: Error {}
        func output(_ path: String, _ text: String, fails: Bool = false, refuses: Bool = false) -> AtomicOutput {
            AtomicOutput(path: path, mayReplace: { _ in if refuses { throw Refused() } }) { tmp in
                if fails { throw Refused() }
                try Data(text.utf8).write(to: URL(fileURLWithPath: tmp))
            }
        }
        XCTAssertThrowsError(try writeAtomicallyTogether([output(a, "new a"), output(b, "new b", fails: true)]))
        XCTAssertThrowsError(try writeAtomicallyTogether([output(a, "new a"), output(b, "new b", refuses: true)]))
        XCTAssertEqual(try String(contentsOfFile: a, encoding: .utf8), "old a", "the first was not renamed in alone")
        XCTAssertEqual(try String(contentsOfFile: b, encoding: .utf8), "old b")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["a.png", "b.png"], "no temporaries left")
        try writeAtomicallyTogether([output(a, "new a"), output(b, "new b")])
        XCTAssertEqual(try String(contentsOfFile: a, encoding: .utf8), "new a")
        XCTAssertEqual(try String(contentsOfFile: b, encoding: .utf8), "new b")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["a.png", "b.png"])
    }
}

extension OutputTests {
    /// hashedFile's hash names the bytes read: a file replaced (renamed over) or rewritten in place while it is
    /// read is refused in one line; an unchanged one gets fileContentHash's hash.
    func testHashedFileRefusesAFileChangedWhileRead() throws {
        let dir = try tempDir(self), path = dir + "/hellaswag.jsonl"
        try Data("{\"a\": 1}\n".utf8).write(to: URL(fileURLWithPath: path))
        let (hash, n) = try hashedFile(path: path) { try Data(contentsOf: URL(fileURLWithPath: path)).count }
        XCTAssertEqual(hash, try fileContentHash(path: path))
        XCTAssertEqual(n, 9)
        let other = dir + "/next.jsonl"
        for change in [{ try Data("{\"a\": 2}\n".utf8).write(to: URL(fileURLWithPath: other)); XCTAssertEqual(rename(other, path), 0) },
                       { let h = try XCTUnwrap(FileHandle(forWritingAtPath: path)); try h.seekToEnd(); try h.write(contentsOf: Data("{}\n".utf8)); try h.close() }] {
            XCTAssertThrowsError(try hashedFile(path: path) { try change() }) { e in
                XCTAssertEqual((e as? LocalizedError)?.errorDescription, "\(path): changed while gpt2lab was reading it; run again once it is written")
            }
        }
    }
}
