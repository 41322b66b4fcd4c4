// libFuzzer entry points for the "torch" target (see fuzz/README.md). Built only with
// GPT2LAB_FUZZ=1 and -sanitize=fuzzer,address.

import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if let broken = fuzzTargets["torch"]!(UnsafeRawBufferPointer(start: data, count: size)) {
        fatalError("invariant broken: \(broken)")
    }
    return 0
}

/// SwiftPM links an executable with main() aliased to MODULE_main; this one hands over to
/// libFuzzer's driver (what libFuzzer's own main() would do).
@_cdecl("fuzz_torch_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc, v = argv
    return LLVMFuzzerRunDriver(&c, &v, fuzz)
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
