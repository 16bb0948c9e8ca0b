// swift-tools-version: 6.0
import PackageDescription

// No third-party Swift packages: the toolchain plus two C libraries from the system.
let package = Package(
    name: "NimDeploy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nim-deploy-operator", targets: ["NimDeployOperator"]),
        .executable(name: "nim-deploy-demo", targets: ["NimDeployDemo"]),
        .executable(name: "nim-bench", targets: ["NimBench"]),
        .library(name: "KubeWatch", targets: ["KubeWatch"]),
        .library(name: "LocalControlPlane", targets: ["LocalControlPlane"]),
    ],
    targets: [
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CYaml", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // A general Kubernetes client and controller runtime. Knows nothing of NIM.
        .target(name: "KubeWatch", dependencies: ["CCurl", "CYaml"]),
        // An in-process Kubernetes API server: the demo's cluster and the integration tests' base.
        .target(name: "LocalControlPlane", dependencies: ["KubeWatch"]),
        // NimDeployment types, model catalog, desired state, reconcile, key rotation, migration.
        .target(name: "Reconciler", dependencies: ["KubeWatch"]),
        // Local stand-ins for the NGC API and for KServe: the demo's, the tests' and the benchmark's.
        .target(name: "StandIns", dependencies: ["KubeWatch", "LocalControlPlane", "Reconciler"]),
        // What the operator and the demo executables share: flags, wiring, the manager (probes,
        // metrics, leader election, signals).
        .target(name: "NimDeployManager", dependencies: ["KubeWatch", "Reconciler"]),
        // The operator binary (and the image): no control plane, no stand-in in it.
        .executableTarget(
            name: "NimDeployOperator",
            dependencies: ["KubeWatch", "Reconciler", "NimDeployManager"],
            plugins: ["BuildInfo"]
        ),
        // The demo: the operator on a local control plane with the stand-ins, in one process.
        .executableTarget(name: "NimDeployDemo", dependencies: ["KubeWatch", "LocalControlPlane", "Reconciler", "StandIns", "NimDeployManager"]),
        // The commit the binary is built from, for `version`.
        .plugin(name: "BuildInfo", capability: .buildTool()),
        // The benchmark: the operator as its own process against the local control plane.
        .executableTarget(name: "NimBench", dependencies: ["KubeWatch", "LocalControlPlane", "Reconciler", "StandIns"]),
        // Fixtures the test targets share: a running control plane, deadlines, paths to ../shared.
        .target(
            name: "TestSupport", dependencies: ["KubeWatch", "LocalControlPlane", "Reconciler", "StandIns"], path: "Tests/TestSupport", exclude: ["Fixtures"]),
        .testTarget(name: "KubeWatchTests", dependencies: ["KubeWatch", "LocalControlPlane", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LocalControlPlaneTests", dependencies: ["KubeWatch", "LocalControlPlane", "TestSupport"]),
        .testTarget(name: "ReconcilerTests", dependencies: ["KubeWatch", "LocalControlPlane", "Reconciler", "StandIns", "TestSupport"]),
        .testTarget(name: "NimDeployOperatorTests", dependencies: ["KubeWatch", "LocalControlPlane", "TestSupport", "NimDeployOperator", "NimDeployDemo"]),
        // The operator process under API server, operator, NGC and input faults (its own run in scripts/test).
        .testTarget(name: "ResilienceTests", dependencies: ["KubeWatch", "LocalControlPlane", "Reconciler", "StandIns", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
