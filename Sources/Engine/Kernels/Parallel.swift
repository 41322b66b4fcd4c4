import Dispatch
import Synchronization

/// Splits `count` items into at most `threads` contiguous chunks and runs them concurrently.
/// `body(range)` is called once per chunk; chunks never overlap.
@inline(__always)
func parallelChunks(_ count: Int, threads: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let n = max(1, min(threads, (count + minChunk - 1) / minChunk))
    if n == 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: n) { i in
            let lo = count * i / n, hi = count * (i + 1) / n
            if lo < hi { box.value(lo..<hi) }
        }
    }
}

/// Carries a value into a concurrent closure. Kernels hand each thread disjoint rows of
/// shared buffers; the compiler cannot see that, so this box states it.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// How many chunks `parallelChunks` would use; callers that keep per-chunk partials size them with it.
@inline(__always)
func chunkCount(_ count: Int, threads: Int, minChunk: Int = 1) -> Int {
    max(1, min(threads, (count + minChunk - 1) / minChunk))
}

/// Runs `body(worker, unit)` once for every unit in 0..<count on up to `threads` workers, each taking the next
/// unit as it finishes one (list costly units first and the threads end together). A unit's result must not
/// depend on which worker ran it; `worker` (0..<chunkCount(count, threads:)) only picks that worker's scratch.
func parallelUnits(_ count: Int, threads: Int, _ body: (_ worker: Int, _ unit: Int) -> Void) {
    if count <= 0 { return }
    let n = chunkCount(count, threads: threads)
    if n == 1 { for u in 0..<count { body(0, u) }; return }
    let next = Atomic<Int>(0)
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: n) { worker in
            while case let u = next.wrappingAdd(1, ordering: .relaxed).oldValue, u < count { box.value(worker, u) }
        }
    }
}

/// `parallelUnits` for bodies that return a library call's status (0 = success): true when every unit
/// returned 0. A failed unit does not stop the others; the caller recomputes or refuses the whole result.
func parallelUnitsSucceed(_ count: Int, threads: Int, _ body: (_ worker: Int, _ unit: Int) -> Int32) -> Bool {
    let failed = Atomic<Bool>(false)
    parallelUnits(count, threads: threads) { worker, u in
        if body(worker, u) != 0 { failed.store(true, ordering: .relaxed) }
    }
    return !failed.load(ordering: .relaxed)
}
