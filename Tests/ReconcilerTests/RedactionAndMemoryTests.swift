import Foundation
import Testing
import KubeWatch
@testable import Reconciler
import TestSupport

/// Bugs a newcomer's reading found (issue 17): a key the redactor no longer holds by value was
/// printed as it is, and forgetting a deployment's children forgot another deployment's too.
@Suite struct RedactionAndMemoryTests {
    @Test func aKeyTheRedactorNoLongerHoldsIsStillMaskedByItsPrefix() {
        _ = APIKey("nvapi-any-key-registers-the-prefix-0001")
        // Never seen by value (as one seen more than the last 4096 keys ago).
        let line = Redactor.shared.scrub("rotated from nvapi-never-registered-key-material-42 to the new one")
        #expect(!line.contains("never-registered-key-material"), "\(line)")
        #expect(line.contains("nvapi-\(Redactor.placeholder)"))
        // What a message says of keys is no key.
        #expect(Redactor.shared.scrub("Put your NGC personal API key (nvapi-...) there.") == "Put your NGC personal API key (nvapi-...) there.")
    }

    @Test func forgettingADeploymentForgetsOnlyItsOwnChildren() async throws {
        let cluster = try TestCluster()
        try await cluster.createNamespace("team-a")
        let ledger = WriteLedger()
        let applier = ChildApplier(client: cluster.client, ledger: ledger)
        // "b" and "ab": every child name of b is the end of a child name of ab.
        for deployment in ["b", "ab"] {
            var map = KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "team-a", name: "nim-cache-\(deployment)")
            map.annotations = [ChildLabels.deploymentNameAnnotation: deployment]
            _ = try await applier.apply(map, .configMaps, live: nil, liveIsComplete: true)
            #expect(ledger.lastAppliedHash(.configMaps, namespace: "team-a", name: "nim-cache-\(deployment)") != nil)
        }
        ledger.forget(deployment: ObjectKey(namespace: "team-a", name: "b"))
        #expect(ledger.lastAppliedHash(.configMaps, namespace: "team-a", name: "nim-cache-b") == nil)
        #expect(ledger.lastAppliedHash(.configMaps, namespace: "team-a", name: "nim-cache-ab") != nil, "ab's memory is ab's")
    }
}
