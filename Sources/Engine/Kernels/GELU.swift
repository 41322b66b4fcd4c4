// GELU, tanh approximation (GPT-2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
// inp, out are (count). The loops are C (Sources/CKernels/vec.c, one clone per ISA level);
// `geluDerivative` is the scalar reference the tests compare with.
import CKernels

let geluScale: Float = 0.7978845608028654  // √(2/π)

func geluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int, threads: Int) {
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.gelu, t0) }
    parallelChunks(count, threads: threads, minChunk: 16384) { r in
        gl_gelu_forward(out + r.lowerBound, inp + r.lowerBound, r.count)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Backward: dinp += dout · gelu'(x), with u = √(2/π)(x + 0.044715x³):
//   gelu'(x) = ½(1 + tanh u) + ½x · (1 − tanh² u) · √(2/π)(1 + 3·0.044715x²).
// Forward caches nothing extra: inp is the pre-activation (B, T, F) it already keeps.
func geluBackward(_ dinp: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                  _ dout: UnsafePointer<Float>, count: Int, threads: Int) {
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.gelu, t0) }
    parallelChunks(count, threads: threads, minChunk: 16384) { r in
        gl_gelu_backward(dinp + r.lowerBound, inp + r.lowerBound, dout + r.lowerBound, r.count)
    }
}

/// gelu'(x), scalar (tail elements and tests).
@inline(__always)
func geluDerivative(_ x: Float) -> Float {
    let th = tanhf(geluScale * (x + 0.044715 * x * x * x))
    return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * geluScale * (1 + 3 * 0.044715 * x * x)
}
