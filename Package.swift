// swift-tools-version: 6.1
// Parley: a headless, end-to-end encrypted voice and video call engine for Linux.
// Targets follow the layers in ARCHITECTURE.md §2; an arrow only points down.
import PackageDescription

/// Strict settings for every Swift target in the package.
let strictSwift: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
        .executable(name: "parley-codec-bench", targets: ["ParleyCodecBenchmarks"]),
        .executable(name: "parley-wire-bench", targets: ["ParleyWireBenchmarks"]),
        .executable(name: "parley-security-bench", targets: ["ParleySecurityBenchmarks"]),
        .executable(name: "parley-session-bench", targets: ["ParleySessionBenchmarks"]),
        .executable(name: "parley-transport-bench", targets: ["ParleyTransportBenchmarks"]),
        .executable(name: "parley-control-bench", targets: ["ParleyControlBenchmarks"]),
        .executable(name: "parley-call-bench", targets: ["ParleyCallBenchmarks"]),
        .executable(name: "parleyd", targets: ["parleyd"]),
        .library(name: "ParleyMedia", targets: ["ParleyMedia"]),
        // For Benchmarks/NIOComparison, a package of its own that measures swift-nio against this runtime.
        .library(name: "ParleyRuntime", targets: ["ParleyRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // MARK: C libraries (system) and the one C target of wrappers around them.
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CVPX", pkgConfig: "vpx", providers: [.apt(["libvpx-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "CPulse", pkgConfig: "libpulse", providers: [.apt(["libpulse-dev"])]),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),
        // libsonic ships no pkg-config file: its module map links `sonic` by name.
        .systemLibrary(name: "CSonic", providers: [.apt(["libsonic-dev"])]),
        .target(
            name: "CParleyShims",
            dependencies: ["COpus", "CVPX", "CSRTP", "CPulse", "CV4L2"]
        ),

        // MARK: Layer 0 — bytes, ids, time.
        .target(name: "ParleyWire", swiftSettings: strictSwift),

        // MARK: Layer 1 — RTP and RTCP.
        .target(name: "ParleyRTP", dependencies: ["ParleyWire"], swiftSettings: strictSwift),

        // MARK: Layer 1 — cryptography: Noise IK, sender keys, SFrame, verification (swift-crypto).
        .target(
            name: "ParleyCrypto",
            dependencies: [
                "ParleyWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 2 — SRTP/SRTCP over libsrtp2.
        .target(
            name: "ParleySRTP",
            dependencies: ["ParleyWire", "ParleyRTP", "CSRTP", "CParleyShims"],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 2 — payload formats (VP8, Opus, RTX).
        .target(name: "ParleyPayload", dependencies: ["ParleyWire", "ParleyRTP"], swiftSettings: strictSwift),

        // MARK: Layer 2 — jitter buffers and loss recovery: audio (NetEq-class, libsonic time-stretch) and
        // video (decodability, NACK, key-frame requests, render timing, RTX history), driven by `now`.
        .target(
            name: "ParleyJitter",
            dependencies: ["ParleyWire", "ParleyRTP", "ParleyPayload", "CSonic"],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 3 — the seeded network emulator (tests, and a relay process between engines).
        .target(name: "ParleyNetworkEmulator", dependencies: ["ParleyWire"], swiftSettings: strictSwift),

        // MARK: Layer 3 — the sans-IO call session.
        .target(
            name: "ParleySession",
            dependencies: ["ParleyWire", "ParleyRTP", "ParleyCrypto", "ParleySRTP", "ParleyPayload", "ParleyJitter"],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 3 — real devices: PulseAudio capture and playback, V4L2 capture, recording sinks.
        .target(
            name: "ParleyDevices",
            dependencies: ["ParleyMedia", "ParleyWire", "CPulse", "CV4L2", "CParleyShims"],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 4 — runtime: sockets and routing
        .target(name: "ParleyRuntime", dependencies: ["ParleyWire", "CParleyShims", "ParleySession", "ParleyCrypto", "ParleyJitter"], swiftSettings: strictSwift),

        // MARK: Layer 4 — control protocol core
        .target(name: "ParleyControl", dependencies: ["ParleyWire"], swiftSettings: strictSwift),

        // MARK: Layer 3 — media: frame types, codecs, synthetic sources.
        .target(
            name: "ParleyMedia",
            dependencies: ["ParleyWire", "ParleyJitter", "CParleyShims"],
            // Optimised in debug builds too: the synthetic camera draws and stamps every pixel in Swift,
            // and unoptimised it cannot keep 30 fps at VGA, so `make demo` and the process tests (debug
            // builds, to build once per run) would measure the debug build instead of the engine.
            swiftSettings: strictSwift + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),

        // MARK: Layer 5 — the engine: calls, media pipelines and the control services over the runtime.
        .target(
            name: "ParleyEngine",
            dependencies: [
                "ParleyRuntime", "ParleyControl", "ParleyMedia", "ParleyDevices", "ParleySession", "ParleyCrypto",
                "ParleyJitter", "ParleyWire", "CParleyShims", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: Layer 6 — thin executables.
        .executableTarget(
            name: "parleyd",
            dependencies: [
                "ParleyEngine",
                "ParleyRuntime",
                "ParleySession",
                "CParleyShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "parley",
            dependencies: [
                "ParleyControl",
                "ParleyMedia",
                "ParleyWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),

        // MARK: Benchmarks (Benchmarks/): ratios against baselines measured in the same run.
        .executableTarget(
            name: "ParleyCodecBenchmarks",
            dependencies: ["ParleyMedia", "ParleyWire"],
            path: "Benchmarks/CodecBaseline",
            swiftSettings: strictSwift
        ),

        .executableTarget(
            name: "ParleyWireBenchmarks",
            dependencies: ["ParleyRTP", "ParleyPayload", "ParleyWire"],
            path: "Benchmarks/WireBenchmarks",
            swiftSettings: strictSwift
        ),

        .executableTarget(
            name: "ParleySecurityBenchmarks",
            dependencies: ["ParleyBenchmarkSupport", "ParleyCrypto", "ParleySRTP", "ParleyRTP", "ParleyWire", "CSRTP", "CParleyShims"],
            path: "Benchmarks/SecurityBenchmarks",
            swiftSettings: strictSwift
        ),

        // Clocks and helpers the benchmarks share.
        .target(name: "ParleyBenchmarkSupport", path: "Benchmarks/Support", swiftSettings: strictSwift),

        // Counts heap allocations of a benchmark process (interposes malloc & co.; benchmarks only).
        .target(name: "CParleyAllocationCounter", path: "Benchmarks/AllocationCounter"),

        .executableTarget(
            name: "ParleySessionBenchmarks",
            dependencies: [
                "ParleyBenchmarkSupport", "ParleySession", "ParleyCrypto", "ParleyJitter", "ParleyMedia", "ParleyNetworkEmulator", "ParleyPayload",
                "ParleyWire", "CParleyAllocationCounter",
            ],
            path: "Benchmarks/SessionBenchmarks",
            swiftSettings: strictSwift
        ),

        .executableTarget(
            name: "ParleyTransportBenchmarks",
            dependencies: ["ParleyBenchmarkSupport", "ParleyRuntime"],
            path: "Benchmarks/TransportBenchmarks",
            swiftSettings: strictSwift
        ),

        .executableTarget(
            name: "ParleyControlBenchmarks",
            dependencies: ["ParleyBenchmarkSupport", "ParleyControl"],
            path: "Benchmarks/ControlBenchmarks",
            swiftSettings: strictSwift
        ),

        .executableTarget(
            name: "ParleyCallBenchmarks",
            dependencies: ["ParleyBenchmarkSupport", "ParleyControl", "ParleyMedia", "ParleyWire"],
            path: "Benchmarks/CallBenchmarks",
            swiftSettings: strictSwift
        ),

        // MARK: Test support (test targets only): virtual clock, network emulator, JSON Schema checker.
        .target(
            name: "ParleyTestSupport",
            dependencies: ["ParleyControl", "ParleyMedia", "ParleyNetworkEmulator", "ParleySession", "ParleyJitter", "ParleyWire"],
            swiftSettings: strictSwift
        ),

        // MARK: Tests.
        .testTarget(name: "ParleyWireTests", dependencies: ["ParleyWire"], swiftSettings: strictSwift),
        .testTarget(name: "ParleyRTPTests", dependencies: ["ParleyRTP", "ParleyWire"], swiftSettings: strictSwift),
        .testTarget(name: "ParleyRuntimeTests", dependencies: ["ParleyRuntime", "ParleyWire", "ParleySession", "ParleyCrypto", "ParleyMedia"], swiftSettings: strictSwift),
        .testTarget(name: "ParleyControlTests", dependencies: ["ParleyControl", "ParleyTestSupport"], swiftSettings: strictSwift),
        // Process tests: real parleyd processes driven over their control sockets.
        .testTarget(
            name: "ParleyEngineTests",
            dependencies: ["ParleyEngine", "ParleyControl", "ParleyCrypto", "ParleyDevices", "ParleyMedia", "ParleySession", "ParleyTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ParleyCryptoTests",
            dependencies: [
                "ParleyCrypto", "ParleyWire",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Vectors")],
            swiftSettings: strictSwift
        ),
        // Device tests: PulseAudio against a daemon the test set-up starts (Scripts/pulse-test-env),
        // V4L2 against the kernel's vivid driver inside a small VM (Scripts/vivid-vm).
        .testTarget(
            name: "ParleyDevicesTests",
            dependencies: ["ParleyDevices", "ParleyMedia", "ParleyWire", "ParleyTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ParleyNetworkEmulatorTests",
            dependencies: ["ParleyNetworkEmulator", "ParleyWire"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ParleyJitterTests",
            dependencies: ["ParleyJitter", "ParleyMedia", "ParleyPayload", "ParleyRTP", "ParleyWire", "ParleyTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ParleySessionTests",
            dependencies: [
                "ParleySession", "ParleyJitter", "ParleyCrypto", "ParleyRTP", "ParleyWire", "ParleyMedia",
                "ParleyTestSupport",
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ParleyPeerTests",
            dependencies: ["ParleyCrypto", "ParleySRTP", "ParleyPayload", "ParleyRTP", "ParleyWire"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ParleySRTPTests",
            dependencies: ["ParleySRTP", "ParleyRTP", "ParleyWire", "CSRTP"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ParleyPayloadTests",
            dependencies: ["ParleyPayload", "ParleyRTP", "ParleyWire", "ParleyMedia"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ParleyMediaTests",
            dependencies: ["ParleyMedia", "ParleyWire", "CParleyShims", "ParleyTestSupport"],
            swiftSettings: strictSwift
        ),
    ]
)
