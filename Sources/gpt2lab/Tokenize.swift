import ArgumentParser
import Foundation
import Plumbing
import Tokenizer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "GPT-2 token ids of a text file or a string (tiktoken's gpt2 encoding).",
        discussion: """
        The literal <|endoftext|> becomes id 50256. Without --json the ids are printed on one line, space \
        separated. --time prints one JSON line with bytes, count, seconds_encode (encoding only: no file read, \
        no vocabulary load) and cpu_seconds_encode (this thread's CPU time); it leaves the ids out unless \
        --json is given too. bench/tokenizer/run.sh uses it.

        Examples:
          gpt2lab tokenize --text "Every effort moves you"
          gpt2lab tokenize examples/test-persuasion.txt --json
          gpt2lab tokenize --time ../shared/fixtures/data/test-persuasion.txt
        """)

    @Argument(help: "UTF-8 text file to encode (its bytes as they are).")
    var file: String?

    @Option(parsing: .unconditional, help: "Encode this string instead of a file (taken whole, even when it starts with '-').")
    var text: String?

    @Flag(help: "Print one JSON object: ids, count, bytes.")
    var json = false

    @Flag(help: "Time the encoding; print one JSON line with seconds_encode and bytes.")
    var time = false

    struct Output: Encodable {
        let ids: [Int32]?
        let count: Int
        let bytes: Int
        let secondsEncode: Double?
        let cpuSecondsEncode: Double?
        enum CodingKeys: String, CodingKey {
            case ids, count, bytes
            case secondsEncode = "seconds_encode", cpuSecondsEncode = "cpu_seconds_encode"
        }
    }

    func run() throws {
        // Here, not in validate(): an unknown option is then named as such (validate() runs before that check).
        if (file == nil) == (text == nil) {
            printToStderr("Error: give either a FILE or --text, not both or neither (see 'gpt2lab tokenize --help')\n")
            throw ExitCode(64)
        }
        try runReporting {
            let bytes: [UInt8]
            if let file {
                // A missing file or a folder is named as such; a FIFO (/dev/stdin, <(…)) is read like a file.
                switch readInputFile(file, streams: true) {
                case let .success(data): bytes = [UInt8](data)
                case let .failure(problem): throw TokenizeError(path: file, problem: problem.text)
                }
                // As score reads a .txt: tiktoken encodes text, and bytes that are not UTF-8 are not text.
                if let offset = firstInvalidUTF8Offset(bytes) { throw TokenizeError(path: file, problem: "invalid UTF-8 at byte offset \(offset)") }
            } else {
                bytes = Array((text ?? "").utf8)
            }
            let tokenizer = try GPT2Tokenizer.load()
            let wall0 = Date(), cpu0 = threadCPUSeconds()
            let ids = tokenizer.encode(bytes: bytes, allowEndOfText: true)
            let cpu = threadCPUSeconds() - cpu0, wall = Date().timeIntervalSince(wall0)
            if time {
                let out = Output(ids: json ? ids : nil, count: ids.count, bytes: bytes.count,
                                 secondsEncode: wall, cpuSecondsEncode: cpu)
                writeStdout(try JSON.encoder(pretty: false).encode(out) + Data("\n".utf8))
            } else if json {
                try printJSON(Output(ids: ids, count: ids.count, bytes: bytes.count, secondsEncode: nil, cpuSecondsEncode: nil))
            } else {
                print(ids.map(String.init).joined(separator: " "))
            }
        }
    }
}

/// A file `tokenize` cannot read, or that is not UTF-8 text.
struct TokenizeError: LocalizedError {
    let path: String
    let problem: String
    var errorDescription: String? { "\(path): \(problem)" }
}

/// CPU time of the calling thread, in seconds (steadier than wall time on a busy machine).
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
