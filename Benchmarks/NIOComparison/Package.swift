// swift-tools-version: 6.1
// swift-nio beside Parley's hand-written receive loop, measured in one run (issue 6: "Choose swift-nio or a
// hand-written loop by measurement"). A package of its own so that Parley's build and CI never build
// swift-nio: `make bench-nio` runs it (README.md).
import PackageDescription

let package = Package(
    name: "NIOComparison",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley-nio-comparison", targets: ["NIOComparison"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(name: "Parley", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "NIOComparison",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ParleyRuntime", package: "Parley"),
            ],
            swiftSettings: [
                .swiftLanguageMode(.v6),
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ]
        ),
    ]
)
