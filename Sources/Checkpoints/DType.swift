// Element types of stored tensors and their conversion to Float.
//
// bf16 is the top half of an f32, so decoding is a 16-bit shift; f16 is decoded bit by bit
// (no reliance on the Float16 type, which some platforms lack).

/// A tensor element type, spelled as safetensors spells it.
public enum TensorDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .F64, .I64, .U64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL: return 1
        }
    }

    public var isFloat: Bool { self == .F64 || self == .F32 || self == .F16 || self == .BF16 }
    /// A signed or unsigned integer (what token ids are stored as); BOOL is neither.
    public var isInteger: Bool { !isFloat && self != .BOOL }
}

/// Decodes IEEE binary16 bits.
@inline(__always) func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    var exp = Int((h >> 10) & 0x1F)
    var mant = UInt32(h & 0x3FF)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        exp = 1                                  // subnormal: normalise
        while mant & 0x400 == 0 { mant <<= 1; exp -= 1 }
        mant &= 0x3FF
        return Float(bitPattern: sign | UInt32(exp + 112) << 23 | mant << 13)
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | mant << 13) }
    return Float(bitPattern: sign | UInt32(exp + 112) << 23 | mant << 13)
}

/// Encodes to IEEE binary16, rounding to nearest even.
func floatToHalf(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exp = Int((bits >> 23) & 0xFF), mant = bits & 0x7F_FFFF
    if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? 0x200 : 0) }
    let e = exp - 127 + 15
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
        if e < -10 { return sign }
        let m = mant | 0x80_0000, shift = UInt32(14 - e)
        var h = m >> shift
        let rem = m & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
        if rem > halfway || (rem == halfway && h & 1 == 1) { h += 1 }
        return sign | UInt16(h)
    }
    var h = UInt32(e) << 10 | (mant >> 13)
    let rem = mant & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && h & 1 == 1) { h += 1 }
    return sign | UInt16(h)
}

@inline(__always) func bf16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

/// Encodes to bfloat16, rounding to nearest even (NaN stays NaN).
func floatToBF16(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    if f.isNaN { return UInt16(bits >> 16) | 0x40 }
    return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
}

/// Decodes `count` little-endian elements at `p` to Float.
func decodeFloats(_ p: UnsafeRawPointer, count: Int, dtype: TensorDType) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { out, initialized in
        decodeFloats(p, count: count, dtype: dtype, into: out.baseAddress!)
        initialized = count
    }
}

/// Decodes `count` little-endian elements at `p` straight into `out` (no temporary array).
func decodeFloats(_ p: UnsafeRawPointer, count: Int, dtype: TensorDType, into out: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .F32: for i in 0..<count { out[i] = p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
    case .BF16: for i in 0..<count { out[i] = bf16ToFloat(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    case .F16: for i in 0..<count { out[i] = halfToFloat(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    case .F64: for i in 0..<count { out[i] = Float(p.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
    default:
        let ints = decodeInts(p, count: count, dtype: dtype)
        for i in 0..<count { out[i] = Float(ints[i]) }
    }
}

/// Decodes `count` little-endian integer elements at `p` (floats are truncated toward zero).
func decodeInts(_ p: UnsafeRawPointer, count: Int, dtype: TensorDType) -> [Int64] {
    [Int64](unsafeUninitializedCapacity: count) { out, initialized in
        switch dtype {
        case .I64: for i in 0..<count { out[i] = p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self) }
        case .U64: for i in 0..<count { out[i] = Int64(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        case .I32: for i in 0..<count { out[i] = Int64(p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .U32: for i in 0..<count { out[i] = Int64(p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        case .I16: for i in 0..<count { out[i] = Int64(p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
        case .U16: for i in 0..<count { out[i] = Int64(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .I8: for i in 0..<count { out[i] = Int64(p.load(fromByteOffset: i, as: Int8.self)) }
        case .U8, .BOOL: for i in 0..<count { out[i] = Int64(p.load(fromByteOffset: i, as: UInt8.self)) }
        case .F32, .F16, .BF16, .F64:
            let f = decodeFloats(p, count: count, dtype: dtype)
            for i in 0..<count { out[i] = f[i].isFinite ? Int64(f[i]) : Int64.min }
        }
        initialized = count
    }
}

/// Token ids read as Int64, narrowed to Int32; the first value that does not fit is an error
/// naming the file, the tensor (`what`) and the element.
func narrowToInt32(_ wide: [Int64], file: String, what: String) throws -> [Int32] {
    var out = [Int32](repeating: 0, count: wide.count)
    for (k, v) in wide.enumerated() {
        guard let x = Int32(exactly: v) else {
            throw CheckpointError(file, .badDType, "\(what) element \(k) = \(v) does not fit in int32")
        }
        out[k] = x
    }
    return out
}
