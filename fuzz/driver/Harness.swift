// libFuzzer entry points for every target (see fuzz/README.md): one executable,
//   gpt2lab-fuzz TARGET [libFuzzer flags] [CORPUS…]
// picks the target body from FuzzTargets by name and hands the remaining arguments to libFuzzer's
// driver. Built only with GPT2LAB_FUZZ=1 and -sanitize=fuzzer,address (`make fuzz`).

import Foundation
import FuzzTargets
#if canImport(Glibc)
import Glibc
#endif

/// The chosen target's body; set once in main, before libFuzzer calls back.
nonisolated(unsafe) private var target: ((UnsafeRawBufferPointer) -> String?)?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if let broken = target?(UnsafeRawBufferPointer(start: data, count: size)) {
        fatalError("invariant broken: \(broken)")
    }
    return 0
}

/// SwiftPM links an executable with main() aliased to MODULE_main; this one takes the target name
/// off the command line and hands over to libFuzzer's driver (what libFuzzer's own main() would do).
@_cdecl("gpt2lab_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let names = fuzzTargets.keys.sorted().joined(separator: ", ")
    guard argc >= 2, let argv, let first = argv[1], let body = fuzzTargets[String(cString: first)] else {
        let usage = "usage: gpt2lab-fuzz TARGET [libFuzzer flags] [CORPUS…]; targets: \(names)\n"
        _ = usage.withCString { write(2, $0, strlen($0)) }
        return 2
    }
    target = body
    var rest: [UnsafeMutablePointer<CChar>?] = [argv[0]] + (2..<Int(argc)).map { argv[$0] } + [nil]
    return rest.withUnsafeMutableBufferPointer { buf in
        var c = argc - 1
        var v: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buf.baseAddress
        return LLVMFuzzerRunDriver(&c, &v, fuzz)
    }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
