import Foundation
import KubeCore

/// What a revision plan renders (pure): the stable objects' inputs (with a Serverless canary's
/// percent), and beside them, in a progressive rollout over the Gateway API, the candidate's
/// runtime and InferenceService and the HTTPRoute weighing the two; what is no longer wanted,
/// to delete; and where the latest revision runs, to judge it.
struct RolloutRender {
    /// The inputs every rendering shares, for a deployment (the spec, or a revision's) and its image.
    let common: (NimDeployment, ResolvedImage) -> DesiredInputs
    var stableInputs: DesiredInputs
    /// The stable objects from those inputs (what the decision writes unless a preload or an idle
    /// shutdown changes the inputs after).
    let stable: DesiredState
    var beside: [(ResourceType, KubeObject)] = []
    var deletes: [(ResourceType, String)] = []
    var split: TrafficSplit
    var serving = RevisionRules.Serving()
    /// The HTTPRoute this deployment has (for the status, so it is deleted once not wanted).
    var routeName: String?
    /// When to come back to delete a drained candidate.
    var requeueAfter: TimeInterval?
    static let drainLimit: TimeInterval = 30

    static let httpRoutes = ResourceType(group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes", kind: "HTTPRoute", namespaced: true)
    /// The predictor Service KServe makes for an InferenceService in RawDeployment mode.
    static let predictorPort = 80

    init(_ plan: RevisionPlan, o: Observation, common: @escaping (NimDeployment, ResolvedImage) -> DesiredInputs) {
        self.common = common
        split = plan.split
        stableInputs = common(plan.stable, plan.stableImage)
        if split == .canaryTrafficPercent {
            // Always written (100: all to the latest revision): a field dropped from the desired
            // object would stay on the live one.
            stableInputs.canaryTrafficPercent = plan.canaryPercent ?? 100
            stableInputs.tagRouting = true
        }
        let stable = DesiredState(stableInputs)
        self.stable = stable
        let names = stable.names
        var candidate: DesiredState?
        if let (deployment, image) = plan.candidate {
            var inputs = common(deployment, image)
            inputs.candidate = true
            let rendered = DesiredState(inputs)
            beside += [(KServe.servingRuntimes, rendered.runtime), (KServe.inferenceServices, rendered.inferenceService)]
            candidate = rendered
        } else if o.children.candidateService != nil || o.children.candidateRuntime != nil {
            // Promoted or rolled back: the HTTPRoute no longer sends it anything. It goes once the
            // Gateway has had time to apply that (the step's pause, at most 30 s), so requests
            // already routed to it are answered.
            let latest = plan.history.latest
            let lostShare = [latest?.verifiedAt, latest?.startedAt].compactMap { $0.flatMap(KubeTime.parse) }.max() ?? .distantPast
            let drained = lostShare.addingTimeInterval(min(plan.stable.spec.rollout.pause, Self.drainLimit))
            if case .httpRoute = split, drained > o.now {
                requeueAfter = drained.timeIntervalSince(o.now)
            } else {
                if o.children.candidateService != nil { deletes.append((KServe.inferenceServices, names.candidate.inferenceService)) }
                if o.children.candidateRuntime != nil { deletes.append((KServe.servingRuntimes, names.candidate.runtime)) }
            }
        }
        if case .httpRoute(let gateway) = split {
            beside.append((Self.httpRoutes, Self.route(stable, gateway: gateway, candidate: candidate.map { ($0.names, plan.canaryPercent ?? 0) })))
            routeName = names.trafficRoute
        } else if let existing = o.status?["httpRouteName"]?.stringValue {
            deletes.append((Self.httpRoutes, existing))
        }

        // Where the latest revision runs: the candidate while it takes a share, the stable otherwise.
        if let candidate, (plan.canaryPercent ?? 0) < 100 {
            serving = RevisionRules.Serving(service: o.children.candidateService, revision: Self.revision(candidate), address: Self.address(o.children.candidateService))
        } else {
            serving = RevisionRules.Serving(
                service: o.children.inferenceService, revision: Self.revision(stable),
                address: split == .canaryTrafficPercent ? Self.latestAddress(o.children.inferenceService) : Self.address(o.children.inferenceService))
        }
    }

    static func revision(_ desired: DesiredState) -> String? {
        desired.inferenceService[path: ["spec", "predictor", "annotations", DesiredState.revisionAnnotation]]?.stringValue
    }

    /// The in-cluster address KServe reports (the predictor Service), else its URL.
    static func address(_ service: KubeObject?) -> String? {
        let address = service?[dotted: "status.address.url"]?.stringValue ?? service?[dotted: "status.url"]?.stringValue
        return address.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Serverless with tag routing: the latest revision's own URL (only it answers there).
    static func latestAddress(_ service: KubeObject?) -> String? {
        let traffic = service?[path: ["status", "components", "predictor", "traffic"]]?.arrayValue ?? []
        if let latest = traffic.first(where: { $0["latestRevision"]?.boolValue == true })?["url"]?.stringValue, !latest.isEmpty { return latest }
        return address(service)
    }

    /// `nim-traffic-<name>`: the stable predictor Service, and the candidate's with its weight.
    static func route(_ stable: DesiredState, gateway: Rollout.GatewayReference, candidate: (names: ChildNames, weight: Int)?) -> KubeObject {
        var route = KubeObject(apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: stable.inferenceService.namespace, name: stable.names.trafficRoute)
        route.labels = stable.inferenceService.labels.filter { $0.key != "opendatahub.io/dashboard" }
        route.annotations = [ChildLabels.deploymentNameAnnotation: stable.inferenceService.annotations[ChildLabels.deploymentNameAnnotation] ?? ""]
        route.ownerReferences = stable.inferenceService.ownerReferences
        var parent: JSON = ["group": "gateway.networking.k8s.io", "kind": "Gateway", "name": .string(gateway.name)]
        if let namespace = gateway.namespace { parent["namespace"] = .string(namespace) }
        if let section = gateway.sectionName { parent["sectionName"] = .string(section) }
        func backend(_ service: String, _ weight: Int) -> JSON {
            ["group": "", "kind": "Service", "name": .string(service + "-predictor"), "port": .int(predictorPort), "weight": .int(weight)]
        }
        var backends = [backend(stable.names.inferenceService, 100 - (candidate?.weight ?? 0))]
        if let candidate { backends.append(backend(candidate.names.inferenceService, candidate.weight)) }
        route["spec"] = [
            "parentRefs": [parent],
            "hostnames": [.string(gateway.hostname)],
            "rules": [["matches": [["path": ["type": "PathPrefix", "value": "/"]]], "backendRefs": .array(backends)]],
        ]
        return route
    }
}
