import Foundation

/// The memory this machine can give a process now without swapping, in bytes: Linux's MemAvailable
/// (/proc/meminfo); nil where that is not known, and then no check refuses for lack of memory.
public func availableMemoryBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let kb = Int(fields[1]) else { return nil }
        return kb * 1024
    }
    return nil
}
