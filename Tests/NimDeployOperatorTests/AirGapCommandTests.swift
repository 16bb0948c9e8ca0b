import Foundation
import Testing
import KubeCore
import KubeAPI
import Reconciler
import TestSupport

/// `nim-deploy-operator airgap`: what it writes, checked with the tools that consume it (skopeo
/// into a real distribution registry, kubectl's and the operator's own parsers).
@Suite struct AirGapCommandTests {
    static func directory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airgap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static func catalog(_ models: [(id: String, image: String, tags: [String])], in directory: URL) throws -> String {
        let document: JSON = [
            "schemaVersion": "1.0.0",
            "models": .array(models.map { model in
                [
                    "id": .string(model.id), "name": .string(model.id), "containerImage": .string(model.image), "tags": .array(model.tags.map(JSON.string)),
                    "latestTag": .string(model.tags[0]), "euRestricted": false,
                ]
            }),
        ]
        let configMap: JSON = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "nim-model-metadata"], "data": ["models.json": .string(document.serialized())]]
        let path = directory.appendingPathComponent("catalog.yaml").path
        try Data(YAML.emit(configMap).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func read(_ directory: URL, _ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    @Test func theScriptMirrorsEveryArchitectureWithItsDigestIntoARealRegistry() async throws {
        let work = try Self.directory()
        let source = try await LocalRegistry()
        let target = try await LocalRegistry()
        // A two-architecture image in the source registry, as NGC serves NIMs.
        let (layout, digest) = try LocalRegistry.ociLayout(tag: "1.0", in: work)
        let pushed = try await run(
            ["skopeo", "copy", "--all", "--preserve-digests", "--dest-tls-verify=false", "oci:\(layout.path):1.0", "docker://\(source.host)/nim/meta/tiny:1.0"],
            timeout: 60)
        #expect(pushed.status == 0, "\(pushed)")
        let catalog = try Self.catalog([("meta/tiny", "\(source.host)/nim/meta/tiny:1.0", ["1.0"])], in: work)
        let output = work.appendingPathComponent("out")
        let written = try await run([Paths.operatorBinary, "airgap", "--catalog", catalog, "--mirror", "\(target.host)/mirror", "--output", output.path])
        #expect(written.status == 0, "\(written)")

        let mirrored = try await run(
            ["bash", output.appendingPathComponent("mirror.sh").path], environment: ["SKOPEO_FLAGS": "--src-tls-verify=false --dest-tls-verify=false"],
            timeout: 120)
        #expect(mirrored.status == 0, "\(mirrored)")
        let repository = "mirror/\(source.host.replacingOccurrences(of: ":", with: "-"))/nim/meta/tiny"
        #expect(try Self.read(output, "images.txt") == "\(source.host)/nim/meta/tiny:1.0\n")
        // The same index digest, and both architectures behind it.
        let inspected = try await run(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(target.host)/\(repository):1.0"], timeout: 60)
        #expect(inspected.status == 0, "\(inspected)")
        #expect("sha256:" + SHA256.hex(Array(inspected.stdout.utf8)) == digest, "digests kept")
        let index = try JSON(parsing: Array(inspected.stdout.utf8))
        #expect(Set((index["manifests"]?.arrayValue ?? []).compactMap { $0[path: ["platform", "architecture"]]?.stringValue }) == ["amd64", "arm64"])
        for manifest in index["manifests"]?.arrayValue ?? [] {
            let one = try await run(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(target.host)/\(repository)@\(manifest["digest"]?.stringValue ?? "")"], timeout: 60)
            #expect(one.status == 0, "every architecture is in the mirror: \(one)")
        }
    }

    @Test func itWritesWhatEachPlatformNeedsAndNamesWhatIsMissing() async throws {
        let work = try Self.directory()
        let catalog = try Self.catalog([
            ("meta/llama-3.1-8b-instruct", "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2", ["1.1.2", "1.1.1"]),
            ("nvidia/nv-embedqa-e5-v5", "nvcr.io/nim/nvidia/nv-embedqa-e5-v5:1.0.0", ["1.0.0"]),
        ], in: work)
        let output = work.appendingPathComponent("out")
        let result = try await run([
            Paths.operatorBinary, "airgap", "--catalog", catalog, "--mirror", "registry.corp:5000/nvidia", "--models", "llama-3.1-8b-instruct,nv-embedqa-e5-v5,nope",
            "--tags", "1.1.1,1.0.0,9.9", "--output", output.path, "--operator-image", "quay.io/opendatahub/nim-deploy-operator:0.4.0",
        ])
        #expect(result.status == 3, "written, but something asked for is missing: \(result)")
        #expect(result.stdout.contains("model nope is not in the catalog") && result.stdout.contains("model llama-3.1-8b-instruct has no tag 1.0.0"))
        let images = try Self.read(output, "images.txt").split(separator: "\n").map(String.init)
        #expect(images == [
            "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.1", "nvcr.io/nim/nvidia/nv-embedqa-e5-v5:1.0.0", "quay.io/opendatahub/nim-deploy-operator:0.4.0",
        ])
        let script = try Self.read(output, "mirror.sh")
        #expect(script.contains("copy 'nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.1' 'registry.corp:5000/nvidia/nim/meta/llama-3.1-8b-instruct:1.1.1'"))
        #expect(script.contains("copy 'quay.io/opendatahub/nim-deploy-operator:0.4.0' 'registry.corp:5000/nvidia/quay.io/opendatahub/nim-deploy-operator:0.4.0'"))
        #expect(!script.contains("--src-creds") && !script.contains("--creds"), "no credential on a command line")

        // The mirror sets and the NimDeployments are what kubectl accepts.
        let sets = try YAML.parseAll(try Self.read(output, "mirror-sets.yaml"))
        #expect(sets.map { $0["kind"]?.stringValue ?? "" } == ["ImageTagMirrorSet", "ImageDigestMirrorSet"])
        #expect(sets[0][path: ["spec", "imageTagMirrors"]]?[0]?["mirrors"] == ["registry.corp:5000/nvidia"])
        let deployments = try YAML.parseAll(try Self.read(output, "nimdeployments.yaml"))
        #expect(deployments.map { $0[path: ["metadata", "name"]]?.stringValue ?? "" } == ["llama-3-1-8b-instruct", "nv-embedqa-e5-v5"])
        #expect(deployments[0][path: ["spec", "tag"]] == "1.1.1")
        // The API server (with OpenShift's and this operator's CRDs) takes them as written, strictly.
        let env = try await NimEnvironment(installCatalog: false)
        for file in ["0000_10_config-operator_01_imagedigestmirrorsets.crd.yaml", "0000_10_config-operator_01_imagetagmirrorsets.crd.yaml"] {
            try env.controlPlane.apply(try YAML.parseAll(String(contentsOf: Paths.shared.appendingPathComponent("crds/openshift/\(file)"), encoding: .utf8)))
        }
        let kubeconfig = try env.cluster.writeKubeconfig(namespace: "team-a")
        for file in ["mirror-sets.yaml", "nimdeployments.yaml", "catalog.yaml"] {
            let applied = try await run(
                ["kubectl", "apply", "--server-side", "--dry-run=server", "--validate=strict", "-f", output.appendingPathComponent(file).path],
                environment: ["KUBECONFIG": kubeconfig], timeout: 30)
            #expect(applied.status == 0, "\(file): \(applied)")
        }

        // The catalog is what was mirrored, and the operator reads it.
        let validated = try await run([Paths.operatorBinary, "catalog", "validate", output.appendingPathComponent("catalog.yaml").path])
        #expect(validated.status == 0, "\(validated)")
        let catalogText = try Self.read(output, "catalog.yaml")
        #expect(catalogText.contains("1.1.1") && !catalogText.contains("1.1.2"), "only the tags mirrored")

        // Helm values: OpenShift relies on the mirror sets; plain Kubernetes on the operator's rewrite.
        let kubernetes = try YAML.parse(try Self.read(output, "values-kubernetes.yaml"))
        #expect(kubernetes["disconnected"] == true && kubernetes["mirrorPullSecret"] == "none")
        #expect(kubernetes["imageRegistryMirrors"]?[0] == ["source": "nvcr.io", "mirror": "registry.corp:5000/nvidia"])
        #expect(kubernetes[path: ["image", "repository"]] == "registry.corp:5000/nvidia/quay.io/opendatahub/nim-deploy-operator")
        let openShift = try YAML.parse(try Self.read(output, "values-openshift.yaml"))
        #expect(openShift["disconnected"] == true && openShift["imageRegistryMirrors"] == nil)
        let rendered = try await ChartTests.render(kubernetes)
        #expect(rendered.status == 0 && rendered.stdout.contains("--image-registry-mirror=nvcr.io=registry.corp:5000/nvidia"), "\(rendered)")
    }

    @Test func badInputWritesNothing() async throws {
        let work = try Self.directory()
        let output = work.appendingPathComponent("out")
        let noCatalog = try await run([Paths.operatorBinary, "airgap", "--catalog", work.appendingPathComponent("absent.yaml").path, "--mirror", "r.corp/x", "--output", output.path])
        #expect(noCatalog.status == 1 && !FileManager.default.fileExists(atPath: output.path), "\(noCatalog)")
        let catalog = try Self.catalog([("meta/x", "nvcr.io/nim/meta/x:1", ["1"])], in: work)
        let noModel = try await run([Paths.operatorBinary, "airgap", "--catalog", catalog, "--mirror", "r.corp/x", "--models", "y", "--output", output.path])
        #expect(noModel.status == 1 && !FileManager.default.fileExists(atPath: output.path), "\(noModel)")
        let badMirror = try await run([Paths.operatorBinary, "airgap", "--catalog", catalog, "--mirror", "https://r.corp"])
        #expect(badMirror.status == 2 && badMirror.stderr.contains("--mirror must be a registry host"), "\(badMirror)")
        let noMirror = try await run([Paths.operatorBinary, "airgap", "--catalog", catalog])
        #expect(noMirror.status == 2 && noMirror.stderr.contains("airgap needs --mirror"), "\(noMirror)")
    }
}
