import Foundation
import Testing
import KubeCore
import LocalControlPlane
import TestSupport

/// The real kubectl against the local control plane: what a user of `demo` does.
@Suite(.serialized) struct KubectlTests {
    let cluster: TestCluster
    let environment: [String: String]

    init() throws {
        cluster = try TestCluster()
        environment = ["KUBECONFIG": try cluster.writeKubeconfig(namespace: "wire")]
    }

    func kubectl(_ arguments: String..., input: String? = nil) async throws -> CommandResult {
        try await run(["kubectl"] + arguments, environment: environment, input: input, timeout: 30)
    }

    static let widgetCRD: String = {
        let recording = (try? WireRecording.loadAll())?.first { $0.number == 31 }
        return recording?.body?.serialized() ?? "{}"
    }()

    static let widget = """
        apiVersion: wire.example.com/v1alpha1
        kind: Widget
        metadata: {name: traced, namespace: wire}
        spec: {size: 2, mode: a}
        """

    func prepare() async throws {
        let crd = try await kubectl("apply", "-f", "-", input: Self.widgetCRD)
        #expect(crd.status == 0, "\(crd)")
        #expect(crd.stdout.contains("customresourcedefinition.apiextensions.k8s.io/widgets.wire.example.com created"))
        let namespace = try await kubectl("create", "namespace", "wire")
        #expect(namespace.status == 0, "\(namespace)")
    }

    @Test func applyClientSideThenServerSide() async throws {
        try await prepare()
        let first = try await kubectl("apply", "-f", "-", input: Self.widget)
        #expect(first.stdout.contains("widget.wire.example.com/traced created"), "\(first)")
        let second = try await kubectl("apply", "-f", "-", input: Self.widget)
        #expect(second.stdout.contains("widget.wire.example.com/traced unchanged"), "\(second)")
        let serverSide = try await kubectl("apply", "--server-side", "-f", "-", input: Self.widget)
        #expect(serverSide.stdout.contains("serverside-applied"), "\(serverSide)")
        let changed = try await kubectl("apply", "--server-side", "-f", "-", input: Self.widget.replacingOccurrences(of: "size: 2", with: "size: 4"))
        #expect(changed.status == 0, "\(changed)")
        let yaml = try await kubectl("get", "wd", "traced", "-o", "yaml")
        #expect(yaml.stdout.contains("size: 4"), "\(yaml)")
        #expect(yaml.stdout.contains("generation: 2"), "a spec change bumps generation: \(yaml)")
    }

    @Test func getShowsPrinterColumnsAndDescribeShowsTheObject() async throws {
        try await prepare()
        _ = try await kubectl("apply", "-f", "-", input: Self.widget)
        let table = try await kubectl("get", "widgets")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "SIZE", "READY", "AGE"], "\(table)")
        #expect(lines.dropFirst().first?.hasPrefix("traced") == true, "\(table)")
        let describe = try await kubectl("describe", "widget", "traced")
        #expect(describe.status == 0, "\(describe)")
        #expect(describe.stdout.contains("Name:         traced"))
        #expect(describe.stdout.contains("Size:  2"))
        let secrets = try await kubectl("create", "secret", "generic", "my-ngc-key", "--from-literal=NGC_API_KEY=nvapi-kubectl-test")
        #expect(secrets.status == 0, "imperative create (protobuf body): \(secrets)")
        let list = try await kubectl("get", "secrets")
        #expect(list.stdout.contains("my-ngc-key   Opaque   1"), "\(list)")
    }

    @Test func waitSeesAConditionSetThroughTheStatusSubresource() async throws {
        try await prepare()
        _ = try await kubectl("apply", "-f", "-", input: Self.widget)
        let waiting = BackgroundCommand(["kubectl", "wait", "--for=condition=Ready", "widget/traced", "--timeout=20s"], environment: environment)
        try waiting.start()
        let condition: JSON = ["status": ["conditions": [["type": "Ready", "status": "True", "reason": "Done", "message": "ok", "lastTransitionTime": .string(KubeTime.format(Date()))]]]]
        _ = try await cluster.client.patch(
            ResourceType(group: "wire.example.com", version: "v1alpha1", plural: "widgets", kind: "Widget", namespaced: true),
            namespace: "wire", name: "traced", .merge(condition), subresource: "status")
        let result = await waiting.wait(timeout: 25)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("condition met"), "\(result)")
    }

    @Test func watchPrintsChangesAndDeleteRemoves() async throws {
        try await prepare()
        _ = try await kubectl("apply", "-f", "-", input: Self.widget)
        let watch = BackgroundCommand(["kubectl", "get", "widgets", "-w", "--request-timeout=15s"], environment: environment)
        try watch.start()
        try await eventually("kubectl lists before it watches") { watch.stdout.contains("traced") }
        let patched = try await kubectl("patch", "widget", "traced", "--type", "merge", "-p", #"{"spec":{"size":7}}"#)
        #expect(patched.status == 0, "\(patched)")
        try await eventually("the watch prints the change") { watch.stdout.contains(" 7 ") }
        let deleted = try await kubectl("delete", "-f", "-", input: Self.widget)
        #expect(deleted.stdout.contains("widget.wire.example.com \"traced\" deleted"), "\(deleted)")
        watch.terminate()
        let gone = try await kubectl("get", "widget", "traced")
        #expect(gone.status != 0)
        #expect(gone.stderr.contains("NotFound"), "\(gone)")
    }

    @Test func invalidObjectsAreRejectedWithTheSchemaCauses() async throws {
        try await prepare()
        let bad = try await kubectl("apply", "-f", "-", input: Self.widget.replacingOccurrences(of: "mode: a", with: "mode: c"))
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("spec.mode: Unsupported value: \"c\""), "\(bad)")
        let cel = try await kubectl("apply", "-f", "-", input: Self.widget.replacingOccurrences(of: "size: 2", with: "size: 11"))
        #expect(cel.stderr.contains("size over 10 needs big"), "\(cel)")
    }

    /// A typo refused under fieldValidation=Strict (kubectl's default) is refused before anything
    /// is stored, by every write path, as a real API server refuses it: 400, "strict decoding
    /// error: unknown field", the object not created or not changed.
    @Test func aStrictlyRefusedWriteStoresNothing() async throws {
        try await prepare()
        let typo = Self.widget.replacingOccurrences(of: "spec: {size: 2, mode: a}", with: "spec: {size: 2, mode: a, szie: 3}")
        for command in [["create", "-f", "-"], ["apply", "-f", "-"], ["apply", "--server-side", "-f", "-"]] {
            let result = try await run(["kubectl"] + command, environment: environment, input: typo, timeout: 30)
            #expect(result.status != 0 && result.stderr.contains(#"strict decoding error: unknown field "spec.szie""#), "\(command): \(result)")
            let get = try await kubectl("get", "widget", "traced", "-o", "name")
            #expect(get.status != 0 && get.stderr.contains("NotFound"), "\(command) stored it: \(get)")
        }
        // Existing: update, merge patch and apply change nothing.
        #expect(try await kubectl("create", "-f", "-", input: Self.widget).status == 0)
        let before = try await kubectl("get", "widget", "traced", "-o", "jsonpath={.metadata.resourceVersion}")
        for command in [["replace", "-f", "-"], ["apply", "--server-side", "-f", "-"]] {
            let result = try await run(["kubectl"] + command, environment: environment, input: typo, timeout: 30)
            #expect(result.status != 0 && result.stderr.contains("strict decoding error"), "\(command): \(result)")
        }
        // kubectl patch sends no fieldValidation: the merge patch as a client asking for it.
        do {
            _ = try await cluster.client.call(
                verb: "patch", method: "PATCH", path: "/apis/wire.example.com/v1alpha1/namespaces/wire/widgets/traced", query: [("fieldValidation", "Strict")],
                body: ["spec": ["szie": 3]], contentType: "application/merge-patch+json")
            Issue.record("a strict merge patch with an unknown field was taken")
        } catch {
            #expect(error.status?.code == 400 && error.status?.message == #"strict decoding error: unknown field "spec.szie""#, "\(error)")
        }
        let after = try await kubectl("get", "widget", "traced", "-o", "jsonpath={.metadata.resourceVersion}")
        #expect(after.stdout == before.stdout && !before.stdout.isEmpty, "nothing written: \(before.stdout) then \(after.stdout)")
        // Asked to warn instead, it stores the object without the field, as a real server does.
        let warned = try await run(["kubectl", "replace", "--validate=warn", "-f", "-"], environment: environment, input: typo, timeout: 30)
        #expect(warned.status == 0 && warned.stderr.contains(#"unknown field "spec.szie""#), "\(warned)")
    }
}
