// GELU, tanh approximation (GPT-2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
// inp, out are (count); SIMD16 over the bulk, scalar tail.

let geluScale: Float = 0.7978845608028654  // √(2/π)

func geluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int, threads: Int) {
    parallelChunks(count / 16, threads: threads, minChunk: 1024) { blocks in
        for b in blocks {
            let x = UnsafeRawPointer(inp + b * 16).loadUnaligned(as: SIMD16<Float>.self)
            let u = geluScale * (x + 0.044715 * x * x * x)
            let y = 0.5 * x * (1 + tanhSIMD(u))
            UnsafeMutableRawPointer(out + b * 16).storeBytes(of: y, as: SIMD16<Float>.self)
        }
    }
    for i in (count / 16 * 16)..<count {
        let x = inp[i]
        out[i] = 0.5 * x * (1 + tanhf(geluScale * (x + 0.044715 * x * x * x)))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
