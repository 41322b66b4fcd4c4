// Residual connection: out = a + b, elementwise over `count` (C loop, one clone per ISA level).
import CKernels

func residualForward(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.residual, t0) }
    gl_add(out, a, b, count)
}

// Backward: da += dout, db += dout. (The model's backward aliases d(residual) across a block,
// as llm.c does, so it calls this only where two distinct buffers meet.)
func residualBackward(_ da: UnsafeMutablePointer<Float>, _ db: UnsafeMutablePointer<Float>,
                      _ dout: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { da[i] += dout[i]; db[i] += dout[i] }
}
