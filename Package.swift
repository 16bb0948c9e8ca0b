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
        .library(name: "KubeWatch", targets: ["KubeCore", "KubeAPI", "KubeRuntime"]),
        .library(name: "LocalControlPlane", targets: ["LocalControlPlane"]),
    ],
    targets: [
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CYaml", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // KubeWatch, a general Kubernetes client and controller runtime that knows nothing of
        // NIM, in three layers (kube-rs's kube-core, kube-client, kube-runtime):
        // the vocabulary: JSON, YAML, objects, selectors, time, logs, redaction, metrics;
        .target(name: "KubeCore", dependencies: ["CYaml"], path: "Sources/KubeWatch/Core"),
        // the client: configuration, transport (libcurl), REST, watch;
        .target(name: "KubeAPI", dependencies: ["KubeCore", "CCurl"], path: "Sources/KubeWatch/API"),
        // the controller runtime: caches, informers, work queue, controller, leader election, events.
        .target(name: "KubeRuntime", dependencies: ["KubeCore", "KubeAPI"], path: "Sources/KubeWatch/Runtime"),
        // A small HTTP/1.1 server: the local control plane's, the probes' and metrics', the stand-ins'.
        .target(name: "HTTPServing", dependencies: ["KubeCore"]),
        // An in-process Kubernetes API server: the demo's cluster and the integration tests' base.
        .target(name: "LocalControlPlane", dependencies: ["KubeCore", "HTTPServing"]),
        // NimDeployment types, model catalog, desired state, reconcile, key rotation, migration.
        .target(name: "Reconciler", dependencies: ["KubeCore", "KubeAPI", "KubeRuntime"]),
        // Local stand-ins for the NGC API and for KServe: the demo's, the tests' and the benchmark's.
        .target(name: "StandIns", dependencies: ["KubeCore", "KubeAPI", "KubeRuntime", "HTTPServing", "LocalControlPlane", "Reconciler"]),
        // What the operator and the demo executables share: flags, wiring, the manager (probes,
        // metrics, leader election, signals).
        .target(name: "NimDeployManager", dependencies: ["KubeCore", "KubeAPI", "KubeRuntime", "HTTPServing", "Reconciler"]),
        // The operator binary (and the image): no control plane, no stand-in in it.
        .executableTarget(
            name: "NimDeployOperator",
            dependencies: ["KubeCore", "KubeAPI", "KubeRuntime", "Reconciler", "NimDeployManager"],
            plugins: ["BuildInfo"]
        ),
        // The demo: the operator on a local control plane with the stand-ins, in one process.
        .executableTarget(name: "NimDeployDemo", dependencies: ["KubeCore", "KubeAPI", "LocalControlPlane", "Reconciler", "StandIns", "NimDeployManager"]),
        // The commit the binary is built from, for `version`.
        .plugin(name: "BuildInfo", capability: .buildTool()),
        // The benchmark: the operator as its own process against the local control plane.
        .executableTarget(name: "NimBench", dependencies: ["KubeCore", "KubeAPI", "KubeRuntime", "LocalControlPlane", "Reconciler", "StandIns"]),
        // Fixtures the test targets share: a running control plane, deadlines, paths to ../shared.
        .target(
            name: "TestSupport", dependencies: ["KubeCore", "KubeAPI", "LocalControlPlane", "Reconciler", "StandIns"], path: "Tests/TestSupport", exclude: ["Fixtures"]),
        .testTarget(name: "KubeWatchTests", dependencies: ["KubeCore", "KubeAPI", "KubeRuntime", "HTTPServing", "LocalControlPlane", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LocalControlPlaneTests", dependencies: ["KubeCore", "KubeAPI", "HTTPServing", "LocalControlPlane", "TestSupport"]),
        .testTarget(name: "ReconcilerTests", dependencies: ["KubeCore", "KubeAPI", "LocalControlPlane", "Reconciler", "StandIns", "TestSupport"]),
        .testTarget(name: "NimDeployOperatorTests", dependencies: ["KubeCore", "KubeAPI", "HTTPServing", "LocalControlPlane", "TestSupport", "NimDeployOperator", "NimDeployManager", "NimDeployDemo"]),
        // The operator process under API server, operator, NGC and input faults (its own run in scripts/test).
        .testTarget(name: "ResilienceTests", dependencies: ["KubeCore", "KubeAPI", "LocalControlPlane", "Reconciler", "StandIns", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
