// Residual connection: out = a + b, elementwise over `count` (C loop, one clone per ISA level).
import CKernels

func residualForward(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int,
                     threads: Int = 1) {
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.residual, t0) }
    // Elementwise: any split gives the same bits; chunks of at least 64k floats keep the threads' hand-off cheap.
    parallelChunks(count, threads: threads, minChunk: 1 << 16) { r in gl_add(out + r.lowerBound, a + r.lowerBound, b + r.lowerBound, r.count) }
}

// Backward has no kernel: out = a + b hands dout to both unchanged, so the model's backward keeps
// one d(residual) buffer across a block and adds into it (Block.swift, llm.c's aliasing).
