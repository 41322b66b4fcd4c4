// Residual connection: out = a + b, elementwise over `count` (C loop, one clone per ISA level).
import CKernels

func residualForward(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.residual, t0) }
    gl_add(out, a, b, count)
}

// Backward has no kernel: out = a + b hands dout to both unchanged, so the model's backward keeps
// one d(residual) buffer across a block and adds into it (Block.swift, llm.c's aliasing).
