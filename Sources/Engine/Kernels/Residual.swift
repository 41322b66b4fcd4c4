// Residual connection: out = a + b, elementwise over `count` (SIMD16 bulk).

func residualForward(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    let blocks = count / 16
    for i in 0..<blocks {
        let x = UnsafeRawPointer(a + i * 16).loadUnaligned(as: SIMD16<Float>.self)
        let y = UnsafeRawPointer(b + i * 16).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(out + i * 16).storeBytes(of: x + y, as: SIMD16<Float>.self)
    }
    for i in (blocks * 16)..<count { out[i] = a[i] + b[i] }
}

// Backward: da += dout, db += dout. (The model's backward aliases d(residual) across a block,
// as llm.c does, so it calls this only where two distinct buffers meet.)
func residualBackward(_ da: UnsafeMutablePointer<Float>, _ db: UnsafeMutablePointer<Float>,
                      _ dout: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { da[i] += dout[i]; db[i] += dout[i] }
}
