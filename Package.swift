// swift-tools-version:6.0
import PackageDescription

// gpt2lab: score, inspect and compare GPT-2 checkpoints on the CPU.
// One module per concept (see README "Layout"); C libraries come in through
// tiny system-library shims found with pkg-config.
let package = Package(
    name: "gpt2lab",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "gpt2lab", targets: ["gpt2lab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C shims
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo",
                       providers: [.apt(["libcairo2-dev"])]),

        // CPU detection, OpenBLAS core selection and the elementwise loops, cloned per ISA level
        // (see Sources/CKernels/include/CKernels.h).
        .target(name: "CKernels", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        // oneDNN's bf16 matmul (Debian libdnnl-dev; no pkg-config file), used where it measures faster.
        .target(name: "CDNNL", linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        // The GPU scorer's C side: CUDA driver, NVRTC and cuBLAS opened at run time (no CUDA to build).
        .target(name: "CCUDA", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),

        // Libraries (never print, never exit). The import rules: docs/ARCHITECTURE.md, checked by
        // scripts/check-imports.sh in CI.
        .target(name: "Plumbing"),
        .target(name: "Engine", dependencies: ["CBLAS", "CKernels", "CDNNL", "CCUDA"]),
        .target(name: "Checkpoints", dependencies: ["Engine", "Plumbing", "CHDF5"]),
        .target(name: "Tokenizer", dependencies: ["Plumbing"], resources: [.copy("Resources/gpt2.tiktoken")]),
        .target(name: "TestSets", dependencies: ["Checkpoints", "Tokenizer", "Plumbing"]),
        .target(name: "Analysis", dependencies: ["Engine", "Checkpoints", "TestSets", "Tokenizer", "Plumbing"]),
        .target(name: "Report", dependencies: [
            "Analysis", "Plumbing", "CCairo",
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ], resources: [.copy("Resources/report.html.mustache")]),

        // The thin CLI
        .executableTarget(name: "gpt2lab", dependencies: [
            "Engine", "Checkpoints", "Tokenizer", "TestSets", "Analysis", "Report", "Plumbing",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared by the test targets: a missing ../shared/fixtures skips, or fails under CI=true.
        .target(name: "TestFixtures", path: "Tests/TestFixtures"),
        .testTarget(name: "PlumbingTests", dependencies: ["Plumbing"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine"]),
        // FuzzTargets: the torch.save writer the malformed-file tests start from.
        .testTarget(name: "CheckpointsTests", dependencies: ["TestFixtures", "Checkpoints", "Engine", "CHDF5", "FuzzTargets"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "TokenizerTests", dependencies: ["TestFixtures", "Tokenizer"], exclude: ["Fixtures"]),
        .testTarget(name: "TestSetsTests", dependencies: ["TestFixtures", "TestSets", "Checkpoints", "CHDF5"]),
        .testTarget(name: "AnalysisTests", dependencies: ["TestFixtures", "Analysis", "Engine", "Checkpoints", "TestSets", "Tokenizer"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ReportTests", dependencies: ["TestFixtures", "Report", "Analysis", "Checkpoints", "TestSets", "Engine", "CCairo"],
                    exclude: ["Fixtures"]),
        // The GPU scorer on an emulated device (Tests/CCUDAEmulator: host memory, C kernels, naive GEMMs),
        // against the CPU engine and HF's values; NVRTC compiles the kernels where it is found.
        .target(name: "CCUDAEmulator", dependencies: ["CCUDA"], path: "Tests/CCUDAEmulator"),
        .testTarget(name: "CUDATests", dependencies: ["Analysis", "Engine", "Checkpoints", "TestSets", "Tokenizer", "CCUDAEmulator"]),
        // Runs the built gpt2lab binary end to end; the dependency makes SwiftPM build it first.
        .testTarget(name: "CLITests", dependencies: ["TestFixtures", "gpt2lab"]),

        // Fuzz targets' bodies (fuzz/README.md); the replay test runs them without libFuzzer.
        .target(name: "FuzzTargets", dependencies: ["Checkpoints", "TestSets", "Tokenizer", "Report", "Plumbing", "CHDF5"], path: "fuzz/Targets"),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets"]),
    ]
)

// The libFuzzer executable (`gpt2lab-fuzz TARGET …`, every target in one). Its main() hands over
// to libFuzzer's driver, which only -sanitize=fuzzer links, so it exists only when GPT2LAB_FUZZ is
// set: `make fuzz` sets it.
if Context.environment["GPT2LAB_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "gpt2lab-fuzz", dependencies: ["FuzzTargets"], path: "fuzz/driver"))
    package.products.append(.executable(name: "gpt2lab-fuzz", targets: ["gpt2lab-fuzz"]))
}
