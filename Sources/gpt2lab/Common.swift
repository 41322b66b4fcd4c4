import ArgumentParser
import Analysis
import Checkpoints
import Plumbing
import Foundation
import TestSets

/// Runs a command body; any error becomes one line on stderr and exit status 1. A SIGINT or
/// SIGTERM meanwhile removes the outputs being written (`installInterruptCleanup`).
/// A problem found while a command runs (in its inputs, not its flags): `runReporting` prints it as one
/// `gpt2lab: …` line and exits 1. (A ValidationError there would add argument-parser's top-level usage.)
struct CommandError: LocalizedError {
    let message: String
    init(_ message: String) { self.message = message }
    var errorDescription: String? { message }
}

func runReporting(_ body: () throws -> Void) throws {
    installInterruptCleanup()
    do {
        try body()
        if let why = finishStdout() { throw CommandError("cannot write the output to standard output: \(why)") }
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch {
        let message = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
        printToStderr("gpt2lab: \(oneLine(message))\n")
        throw ExitCode(1)
    }
}

/// Checks a `--out PART.json` before any work: its folder is writable and nothing but a previous
/// gpt2lab part file would be replaced.
func checkPartOutput(_ path: String) throws {
    try checkFileOutput(path, what: "gpt2lab part file") { (try? partFileFormat(path: $0)).map(partFileFormats.contains) == true }
}

/// Writes a shard's part (`score --shard`, `eval --shard`) atomically and says on stderr which units it holds.
func writePart<Body: PartBody>(_ part: ShardPart<Body>, to path: String) throws {
    try writeAtomically(try JSON.encoder().encode(part), to: path, mayReplace: checkPartOutput)   // again: it may have appeared meanwhile
    let units = "\(Body.kind.units) \(part.start)..<\(part.start + part.body.rowCount) of \(part.total)"
    printToStderr("gpt2lab: shard \(part.shard)/\(part.shards): \(units) → \(path)\n")
}

/// One stderr note when the tokens used (after --skip / --max-tokens) are fewer than one window of
/// `context`: they are scored as one short window, as HF's strided recipe scores a short text.
func noteShortTestSet(tokens: TokenFile, path: String, context: Int, skip: Int, maxTokens: Int?) {
    let lo = min(max(0, skip), tokens.ids.count)
    let n = maxTokens.map { min(tokens.ids.count - lo, max(0, $0)) } ?? tokens.ids.count - lo
    guard n >= 2, n < context else { return }
    let cut = lo > 0 || n < tokens.ids.count - lo
    printToStderr("note: \(path) has \(n) tokens\(cut ? " (after --skip/--max-tokens)" : ""), fewer than one window (\(context)); scored as one short window\n")
}

func warn(_ message: String) {
    printToStderr("gpt2lab: warning: \(oneLine(message))\n")
}

/// Pretty, key-sorted JSON of an Encodable value, on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let data = try JSON.encoder().encode(value)
    writeStdout(data + Data("\n".utf8))
}

/// A one-line progress bar with rate and ETA on stderr, drawn only when stderr is a terminal.
final class ProgressBar {
    let label: String
    let unit: String
    let start = Date()
    let enabled = isatty(2) != 0
    var lastDraw = Date.distantPast

    init(_ label: String, unit: String = "tok") { self.label = label; self.unit = unit }

    func update(_ done: Int, _ total: Int) {
        guard enabled else { return }
        let now = Date()
        if done < total && now.timeIntervalSince(lastDraw) < 0.1 { return }
        lastDraw = now
        let frac = total > 0 ? Double(done) / Double(total) : 1
        let width = 30
        let filled = Int(frac * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = String(format: "\r%@ %@ %3.0f%% %d/%d %@ %.0f %@/s ETA %@", label, bar, frac * 100, done, total,
                          unit, rate, unit, formatDuration(eta))
        printToStderr(line)
    }

    func finish() {
        guard enabled else { return }
        printToStderr("\r\u{1B}[2K")
    }
}

func formatDuration(_ s: Double) -> String {
    if !s.isFinite { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
}

