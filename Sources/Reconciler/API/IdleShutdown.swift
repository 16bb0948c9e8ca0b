import Foundation
import KubeCore

/// `spec.idleShutdown`: a deployment that served no request for this long scales to zero (its
/// key, cache, runtime and InferenceService kept), until the spec changes or a person wakes it.
public struct IdleShutdown: Sendable, Equatable {
    public var after: TimeInterval?

    public init(after: TimeInterval? = nil) { self.after = after }

    /// How often the model's request counters are read: a quarter of the idle time, at most
    /// five minutes, so a shutdown comes at most that late.
    public var checkInterval: TimeInterval { min(300, max(15, (after ?? 0) / 4)) }

    init(spec: [String: JSON]) throws(DeploymentProblem) {
        guard let field = spec["idleShutdown"], !field.isNull else { return }
        guard let object = field.objectValue else { throw .invalidSpec("spec.idleShutdown must be an object") }
        after = try Verification.seconds(object, "afterSeconds", in: 300...2_592_000, path: "spec.idleShutdown")
    }
}
