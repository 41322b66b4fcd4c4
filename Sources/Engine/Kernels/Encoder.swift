// Token + position embedding.
// out (B, T, C) = wte[inp[b,t]] + wpe[t]; inp (B, T) token ids, already checked < V.

func encoderForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Int32>,
                    _ wte: UnsafePointer<Float>, _ wpe: UnsafePointer<Float>, b B: Int, t T: Int, c C: Int) {
    for b in 0..<B {
        for t in 0..<T {
            let o = out + (b * T + t) * C
            let e = wte + Int(inp[b * T + t]) * C
            let p = wpe + t * C
            for i in 0..<C { o[i] = e[i] + p[i] }
        }
    }
}
