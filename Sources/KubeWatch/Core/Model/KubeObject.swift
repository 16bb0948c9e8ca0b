/// Namespace and name: how caches, work queues and logs identify an object.
public struct ObjectKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Empty for cluster-scoped objects.
    public var namespace: String
    public var name: String

    public init(namespace: String?, name: String) {
        self.namespace = namespace ?? ""
        self.name = name
    }

    /// `namespace/name`, or `name` for cluster-scoped objects (client-go's `MetaNamespaceKeyFunc`).
    public var description: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }

    /// The order etcd keeps objects in, and so the order lists come in: the bytes of
    /// `namespace/name` ("team-b/x" before "team/x", '-' being below '/').
    public static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        if lhs.namespace == rhs.namespace { return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8) }
        var left = lhs.namespace.utf8.makeIterator()
        var right = rhs.namespace.utf8.makeIterator()
        // Namespaces differ, so a byte differs at the latest where the shorter ends and its '/' follows.
        while true {
            let (a, b) = (left.next() ?? UInt8(ascii: "/"), right.next() ?? UInt8(ascii: "/"))
            if a != b { return a < b }
        }
    }
}

/// An object as the API serves it, with typed access to the metadata every kind shares.
/// The body is kept whole so that nothing the server sent is lost on the way through a cache.
public struct KubeObject: Sendable, Hashable {
    public var body: JSON

    public init(_ body: JSON) {
        self.body = body.objectValue == nil ? .object([:]) : body
    }

    public init(apiVersion: String, kind: String, namespace: String?, name: String) {
        var metadata: JSON = ["name": .string(name)]
        if let namespace, !namespace.isEmpty { metadata["namespace"] = .string(namespace) }
        self.body = ["apiVersion": .string(apiVersion), "kind": .string(kind), "metadata": metadata]
    }

    public subscript(key: String) -> JSON? {
        get { body[key] }
        set { body[key] = newValue }
    }

    public subscript(path path: [String]) -> JSON? {
        get { body[path: path] }
        set { body[path: path] = newValue }
    }

    public subscript(dotted path: String) -> JSON? {
        get { body[dotted: path] }
        set { body[dotted: path] = newValue }
    }

    public var apiVersion: String {
        get { body["apiVersion"]?.stringValue ?? "" }
        set { body["apiVersion"] = .string(newValue) }
    }

    public var kind: String {
        get { body["kind"]?.stringValue ?? "" }
        set { body["kind"] = .string(newValue) }
    }

    public var metadata: JSON {
        get { body["metadata"] ?? .object([:]) }
        set { body["metadata"] = newValue }
    }

    public var name: String {
        get { body[path: ["metadata", "name"]]?.stringValue ?? "" }
        set { body[path: ["metadata", "name"]] = .string(newValue) }
    }

    public var namespace: String? {
        get { body[path: ["metadata", "namespace"]]?.stringValue }
        set { body[path: ["metadata", "namespace"]] = newValue.map(JSON.string) }
    }

    public var key: ObjectKey { ObjectKey(namespace: namespace, name: name) }

    public var uid: String { body[path: ["metadata", "uid"]]?.stringValue ?? "" }

    public var resourceVersion: String {
        get { body[path: ["metadata", "resourceVersion"]]?.stringValue ?? "" }
        set { body[path: ["metadata", "resourceVersion"]] = newValue.isEmpty ? nil : .string(newValue) }
    }

    public var generation: Int { body[path: ["metadata", "generation"]]?.intValue ?? 0 }

    public var creationTimestamp: String? { body[path: ["metadata", "creationTimestamp"]]?.stringValue }

    public var deletionTimestamp: String? { body[path: ["metadata", "deletionTimestamp"]]?.stringValue }

    public var isTerminating: Bool { deletionTimestamp != nil }

    public var labels: [String: String] {
        get { Self.stringMap(body[path: ["metadata", "labels"]]) }
        set { body[path: ["metadata", "labels"]] = newValue.isEmpty ? nil : .object(newValue.mapValues(JSON.string)) }
    }

    public var annotations: [String: String] {
        get { Self.stringMap(body[path: ["metadata", "annotations"]]) }
        set {
            body[path: ["metadata", "annotations"]] = newValue.isEmpty ? nil : .object(newValue.mapValues(JSON.string))
        }
    }

    public var finalizers: [String] {
        get { body[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        set { body[path: ["metadata", "finalizers"]] = newValue.isEmpty ? nil : .array(newValue.map(JSON.string)) }
    }

    public var ownerReferences: [OwnerReference] {
        get { body[path: ["metadata", "ownerReferences"]]?.arrayValue?.compactMap(OwnerReference.init(json:)) ?? [] }
        set {
            body[path: ["metadata", "ownerReferences"]] = newValue.isEmpty ? nil : .array(newValue.map(\.json))
        }
    }

    /// The owner with `controller: true`, if any.
    public var controllerReference: OwnerReference? { ownerReferences.first(where: \.controller) }

    /// A reference to this object for owner references, events and conditions.
    public var reference: ObjectReference {
        ObjectReference(apiVersion: apiVersion, kind: kind, namespace: namespace, name: name, uid: uid, resourceVersion: resourceVersion)
    }

    /// The string entries of a labels- or annotations-style map.
    public static func stringMap(_ json: JSON?) -> [String: String] {
        guard case .object(let object)? = json else { return [:] }
        var map: [String: String] = [:]
        for (key, value) in object {
            if let string = value.stringValue { map[key] = string }
        }
        return map
    }
}

/// `metadata.ownerReferences[]`.
public struct OwnerReference: Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool
    public var blockOwnerDeletion: Bool

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool = false, blockOwnerDeletion: Bool = false) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }

    /// The controller reference controller-runtime's `SetControllerReference` writes.
    public init(controllerOf owner: KubeObject) {
        self.init(apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true)
    }

    public init?(json: JSON) {
        guard let uid = json["uid"]?.stringValue, let name = json["name"]?.stringValue else { return nil }
        self.init(
            apiVersion: json["apiVersion"]?.stringValue ?? "", kind: json["kind"]?.stringValue ?? "", name: name, uid: uid,
            controller: json["controller"]?.boolValue ?? false, blockOwnerDeletion: json["blockOwnerDeletion"]?.boolValue ?? false)
    }

    public var json: JSON {
        var json: JSON = ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name), "uid": .string(uid)]
        if controller { json["controller"] = true }
        if blockOwnerDeletion { json["blockOwnerDeletion"] = true }
        return json
    }
}

/// `core/v1 ObjectReference`: what events and conditions point at.
public struct ObjectReference: Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var namespace: String?
    public var name: String
    public var uid: String
    public var resourceVersion: String

    public init(apiVersion: String, kind: String, namespace: String?, name: String, uid: String = "", resourceVersion: String = "") {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.resourceVersion = resourceVersion
    }

    public var json: JSON {
        var json: JSON = ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name)]
        if let namespace, !namespace.isEmpty { json["namespace"] = .string(namespace) }
        if !uid.isEmpty { json["uid"] = .string(uid) }
        if !resourceVersion.isEmpty { json["resourceVersion"] = .string(resourceVersion) }
        return json
    }
}
