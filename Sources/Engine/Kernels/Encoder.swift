// Token + position embedding.
// out (B, T, C) = wte[inp[b,t]] + wpe[t]; inp (B, T) token ids, already checked < V.

func encoderForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Int32>,
                    _ wte: UnsafePointer<Float>, _ wpe: UnsafePointer<Float>, b B: Int, t T: Int, c C: Int) {
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.embedding, t0) }
    for b in 0..<B {
        for t in 0..<T {
            let o = out + (b * T + t) * C
            let e = wte + Int(inp[b * T + t]) * C
            let p = wpe + t * C
            for i in 0..<C { o[i] = e[i] + p[i] }
        }
    }
}

// Backward: dwte[inp[b,t]] += dout[b,t]; dwpe[t] += dout[b,t]. Serial: tokens repeat, so rows collide.
func encoderBackward(_ dwte: UnsafeMutablePointer<Float>, _ dwpe: UnsafeMutablePointer<Float>,
                     _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Int32>, b B: Int, t T: Int, c C: Int) {
    for b in 0..<B {
        for t in 0..<T {
            let d = dout + (b * T + t) * C
            let e = dwte + Int(inp[b * T + t]) * C
            let p = dwpe + t * C
            for i in 0..<C { e[i] += d[i]; p[i] += d[i] }
        }
    }
}
