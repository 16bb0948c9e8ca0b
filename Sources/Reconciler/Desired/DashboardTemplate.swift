import KubeCore

/// The OpenShift Templates Open Data Hub's dashboard processes to make a NIM ServingRuntime
/// (`nvidia-nim-http-template`, `nvidia-nim-grpc-template`), made from the operator's own
/// runtime code: the runtime the operator writes for a NimDeployment with the parameters' values
/// is what `oc process` makes of the Template, less the operator's own bookkeeping (its owner
/// reference, labels and annotations), so a runtime made by the dashboard and one made by the
/// operator are the same.
public enum DashboardTemplate {
    public struct Parameter: Sendable {
        public var name: String
        public var description: String
        /// What stands in for it while the runtime is made: a value the runtime code passes
        /// through unchanged, replaced by `${NAME}` afterwards.
        var sentinel: String
    }

    public static let parameters: [Parameter] = [
        Parameter(name: "DEPLOYMENT_NAME", description: "The deployment's name: the ServingRuntime, InferenceService and per-deployment Secrets are named after it", sentinel: "nimtemplatedeploymentsentinel"),
        Parameter(name: "CONTAINER_IMAGE", description: "The NIM image, registry/repository:tag", sentinel: "registry.invalid/nim-template/image-sentinel:tag-sentinel"),
        Parameter(name: "MODEL_NAME", description: "The model, as the catalog names it (llama-3.1-8b-instruct)", sentinel: "nim-template-model-sentinel"),
        Parameter(name: "MODEL_TAG", description: "The image tag", sentinel: "nim-template-tag-sentinel"),
        Parameter(name: "DISPLAY_NAME", description: "The model's display name", sentinel: "NimTemplateDisplaySentinel"),
    ]

    public static func name(_ serving: NimDeployment.ServingProtocol) -> String { "nvidia-nim-\(serving.rawValue)-template" }

    /// The Template for a protocol.
    public static func template(_ serving: NimDeployment.ServingProtocol) -> KubeObject {
        var template = KubeObject(apiVersion: "template.openshift.io/v1", kind: "Template", namespace: nil, name: name(serving))
        template.labels = ["app.kubernetes.io/part-of": "nim-integration", "opendatahub.io/dashboard": "true"]
        template.annotations = [
            "openshift.io/display-name": "NVIDIA NIM (\(serving == .grpc ? "gRPC" : "HTTP"))",
            "opendatahub.io/apiProtocol": serving == .grpc ? "gRPC" : "REST",
            "opendatahub.io/modelServingSupport": #"["single"]"#,
            "opendatahub.io/template-enabled": "true",
            "description": "The ServingRuntime nim-deploy-operator makes for a NimDeployment, for the dashboard to make alike.",
        ]
        template["objects"] = [runtime(serving).body]
        template["parameters"] = .array(parameters.map { parameter -> JSON in
            ["name": .string(parameter.name), "description": .string(parameter.description), "required": true]
        })
        return template
    }

    /// The operator's runtime for the parameters, with `${NAME}` where their values go.
    static func runtime(_ serving: NimDeployment.ServingProtocol) -> KubeObject {
        func sentinel(_ name: String) -> String { parameters.first { $0.name == name }?.sentinel ?? name }
        var object = KubeObject(apiVersion: NimDeployment.resource.apiVersion, kind: NimDeployment.resource.kind, namespace: nil, name: sentinel("DEPLOYMENT_NAME"))
        object["spec"] = ["model": .string(sentinel("MODEL_NAME")), "protocol": .string(serving.rawValue), "apiKeySecretRef": ["name": "template"]]
        let made: KubeObject
        do {
            let deployment = try NimDeployment(object)
            let image = ImageReference(parsing: sentinel("CONTAINER_IMAGE")) ?? ImageReference(registry: "registry.invalid", path: "nim-template")
            let inputs = DesiredInputs(
                deployment: deployment, image: ResolvedImage(image: image, model: sentinel("MODEL_NAME"), tag: sentinel("MODEL_TAG"), displayName: sentinel("DISPLAY_NAME")),
                key: APIKey("nvapi-template"), restartToken: RestartToken(fingerprint: "template"), existingDeploymentMode: .none)
            made = DesiredState(inputs).runtime
        } catch {
            return KubeObject(apiVersion: "serving.kserve.io/v1alpha1", kind: "ServingRuntime", namespace: nil, name: "${DEPLOYMENT_NAME}")
        }
        var runtime = made
        runtime.ownerReferences = []
        runtime[path: ["metadata", "ownerReferences"]] = nil
        runtime[path: ["metadata", "namespace"]] = nil
        runtime.labels = runtime.labels.filter { operatorOnly.contains($0.key) == false }
        runtime.annotations = runtime.annotations.filter { $0.key != ChildLabels.deploymentNameAnnotation }
        var text = runtime.body.serialized()
        // Longer sentinels first, so none is replaced inside another.
        for parameter in parameters.sorted(by: { $0.sentinel.count > $1.sentinel.count }) {
            text = text.replacingOccurrences(of: parameter.sentinel, with: "${\(parameter.name)}")
        }
        return (try? JSON(parsing: Array(text.utf8))).map(KubeObject.init) ?? runtime
    }

    /// What marks an object as the operator's: a dashboard-made runtime carries none of it.
    public static let operatorOnly: Set<String> = [ChildLabels.managedBy, ChildLabels.partOf, ChildLabels.odhManaged, ChildLabels.deployment]

    /// `oc process`: each `${NAME}` in the objects' strings replaced by its value.
    public static func process(_ template: KubeObject, _ values: [String: String]) -> [KubeObject] {
        func substitute(_ value: JSON) -> JSON {
            switch value {
            case .string(var text):
                for (name, replacement) in values { text = text.replacingOccurrences(of: "${\(name)}", with: replacement) }
                return .string(text)
            case .array(let items): return .array(items.map(substitute))
            case .object(let fields): return .object(fields.mapValues(substitute))
            default: return value
            }
        }
        return (template["objects"]?.arrayValue ?? []).map { KubeObject(substitute($0)) }
    }
}
