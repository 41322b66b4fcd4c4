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

// Backward: dinp += dout · gelu'(x), with u = √(2/π)(x + 0.044715x³):
//   gelu'(x) = ½(1 + tanh u) + ½x · (1 − tanh² u) · √(2/π)(1 + 3·0.044715x²).
// Forward caches nothing extra: inp is the pre-activation (B, T, F) it already keeps.
func geluBackward(_ dinp: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                  _ dout: UnsafePointer<Float>, count: Int, threads: Int) {
    parallelChunks(count / 16, threads: threads, minChunk: 1024) { blocks in
        for b in blocks {
            let x = UnsafeRawPointer(inp + b * 16).loadUnaligned(as: SIMD16<Float>.self)
            let d = UnsafeRawPointer(dout + b * 16).loadUnaligned(as: SIMD16<Float>.self)
            let x2: SIMD16<Float> = x * x
            let u: SIMD16<Float> = geluScale * (x + 0.044715 * x2 * x)
            let th = tanhSIMD(u)
            let sech2: SIMD16<Float> = 1 - th * th
            let du: SIMD16<Float> = geluScale * (1 + 0.134145 * x2)
            let g: SIMD16<Float> = 0.5 * (1 + th) + 0.5 * x * sech2 * du
            let p = UnsafeMutableRawPointer(dinp + b * 16)
            p.storeBytes(of: p.loadUnaligned(as: SIMD16<Float>.self) + g * d, as: SIMD16<Float>.self)
        }
    }
    for i in (count / 16 * 16)..<count { dinp[i] += geluDerivative(inp[i]) * dout[i] }
}

/// gelu'(x), scalar (tail elements and tests).
@inline(__always)
func geluDerivative(_ x: Float) -> Float {
    let th = tanhf(geluScale * (x + 0.044715 * x * x * x))
    return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * geluScale * (1 + 3 * 0.044715 * x * x)
}
