// libFuzzer entry point for the "hdf5" target (see fuzz/README.md). Built only with
// GPT2LAB_FUZZ=1 and -sanitize=fuzzer,address, which supplies main().

import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let broken = fuzzTargets["hdf5"]!(UnsafeRawBufferPointer(start: data, count: size)) {
        fatalError("invariant broken: \(broken)")
    }
    return 0
}
