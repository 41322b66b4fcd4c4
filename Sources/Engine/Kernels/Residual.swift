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

// Backward has no kernel: out = a + b hands dout to both unchanged, so the model's backward keeps
// one d(residual) buffer across a block and adds into it (Block.swift, llm.c's aliasing).
