import Foundation
import KubeCore

/// `/api`, `/apis`, group and group-version documents, legacy and aggregated (v2), built from
/// whatever is registered at the moment, so a CRD is discoverable as soon as it is established.
enum Discovery {
    static func coreVersions(serverAddress: String) -> JSON {
        [
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]],
        ]
    }

    /// Groups in a stable order: built-ins first as registered, then custom groups by name. A
    /// group's versions go highest priority first (v2 > v1 > v1beta2 > v1beta1 > v1alpha1), and
    /// the first is the preferred one, as kube-apiserver orders them.
    static func groups(_ definitions: [ResourceDefinition]) -> [(name: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for definition in definitions where !definition.group.isEmpty {
            if versions[definition.group] == nil { order.append(definition.group) }
            for version in definition.versions where !(versions[definition.group] ?? []).contains(version) {
                versions[definition.group, default: []].append(version)
            }
        }
        return order.map { ($0, (versions[$0] ?? []).sorted { versionPriority($0) > versionPriority($1) }) }
    }

    /// Kubernetes version ordering: GA above beta above alpha, higher numbers first.
    static func versionPriority(_ version: String) -> Int {
        let scanner = version.dropFirst()
        let major = Int(scanner.prefix { $0.isNumber }) ?? 0
        let rest = scanner.drop { $0.isNumber }
        let minor = Int(rest.drop { !$0.isNumber }) ?? 0
        let stability = rest.isEmpty ? 3 : rest.hasPrefix("beta") ? 2 : rest.hasPrefix("alpha") ? 1 : 0
        return stability * 1_000_000 + major * 1000 + minor
    }

    /// kube-apiserver's `storageVersionHash`: eight bytes of SHA-256 over group/version/kind.
    static func storageVersionHash(_ definition: ResourceDefinition) -> String {
        let digest = SHA256.hash(Array("\(definition.group)/\(definition.storageVersion)/\(definition.kind)".utf8))
        return Data(digest.prefix(8)).base64EncodedString()
    }

    static func groupList(_ definitions: [ResourceDefinition]) -> JSON {
        ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups(definitions).map { group($0.name, versions: $0.versions) })]
    }

    static func group(_ name: String, versions: [String]) -> JSON {
        let entries: [JSON] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        return ["name": .string(name), "versions": .array(entries), "preferredVersion": entries.first ?? [:]]
    }

    static func apiGroup(_ name: String, versions: [String]) -> JSON {
        var document = group(name, versions: versions)
        document["kind"] = "APIGroup"
        document["apiVersion"] = "v1"
        return document
    }

    static func resourceList(groupVersion: String, version: String, definitions: [ResourceDefinition]) -> JSON {
        var resources: [JSON] = []
        for definition in definitions where definition.versions.contains(version) {
            var entry: JSON = [
                "name": .string(definition.plural), "singularName": .string(definition.singular),
                "namespaced": .bool(definition.namespaced), "kind": .string(definition.kind),
                "verbs": .array(definition.verbs.map(JSON.string)),
            ]
            if !definition.shortNames.isEmpty { entry["shortNames"] = .array(definition.shortNames.map(JSON.string)) }
            if !definition.categories.isEmpty { entry["categories"] = .array(definition.categories.map(JSON.string)) }
            entry["storageVersionHash"] = .string(storageVersionHash(definition))
            resources.append(entry)
            if definition.hasStatusSubresource {
                resources.append([
                    "name": .string("\(definition.plural)/status"), "singularName": "", "namespaced": .bool(definition.namespaced),
                    "kind": .string(definition.kind), "verbs": ["get", "patch", "update"],
                ])
            }
        }
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion), "resources": .array(resources)]
    }

    /// One group's entry in an `APIGroupDiscoveryList`.
    static func aggregatedGroup(_ name: String, versions: [String], definitions: [ResourceDefinition]) -> JSON {
        let versionEntries: [JSON] = versions.map { version in
            let resources: [JSON] = definitions.filter { $0.group == name && $0.versions.contains(version) }.map { definition in
                // Custom kinds name their group and version in responseKind; built-ins leave them empty.
                let responseKind: JSON = definition.isCustom
                    ? ["group": .string(definition.group), "version": .string(version), "kind": .string(definition.kind)]
                    : ["group": "", "version": "", "kind": .string(definition.kind)]
                var entry: JSON = [
                    "resource": .string(definition.plural),
                    "responseKind": responseKind,
                    "scope": definition.namespaced ? "Namespaced" : "Cluster",
                    "singularResource": .string(definition.singular),
                    "verbs": .array(definition.verbs.map(JSON.string)),
                ]
                if !definition.shortNames.isEmpty { entry["shortNames"] = .array(definition.shortNames.map(JSON.string)) }
                if !definition.categories.isEmpty { entry["categories"] = .array(definition.categories.map(JSON.string)) }
                if definition.hasStatusSubresource {
                    entry["subresources"] = [[
                        "subresource": "status", "responseKind": responseKind,
                        "verbs": ["get", "patch", "update"],
                    ]]
                }
                return entry
            }
            return ["version": .string(version), "resources": .array(resources), "freshness": "Current"]
        }
        var metadata: JSON = ["creationTimestamp": nil]
        if !name.isEmpty { metadata = ["name": .string(name)] }
        return ["metadata": metadata, "versions": .array(versionEntries)]
    }

    static func aggregatedList(_ items: [JSON], version: String) -> JSON {
        ["kind": "APIGroupDiscoveryList", "apiVersion": .string("apidiscovery.k8s.io/\(version)"), "metadata": [:], "items": .array(items)]
    }

    static func version() -> JSON {
        [
            "major": "1", "minor": "36", "gitVersion": "v1.36.2-nimdeploy-local", "gitCommit": "local",
            "gitTreeState": "clean", "buildDate": "2026-11-01T00:00:00Z", "goVersion": "n/a", "compiler": "swift",
            "platform": "linux/amd64",
        ]
    }
}
