import KubeWatch

/// The operator's settings that shape what a deployment becomes (flags of `run`).
public struct ReconcilerOptions: Sendable {
    /// `namespace/name` of the catalog ConfigMap.
    public var catalog: ObjectKey
    public var disconnected = false
    public var disableKeyValidation = false
    /// `EU` refuses EU-restricted models.
    public var region: String?
    public static let fieldManager = "nim-deploy-operator"

    public init(catalog: ObjectKey, disconnected: Bool = false, disableKeyValidation: Bool = false, region: String? = nil) {
        self.catalog = catalog
        self.disconnected = disconnected
        self.disableKeyValidation = disableKeyValidation
        self.region = region
    }

    var refusesEURestricted: Bool { region?.uppercased() == "EU" }
}
