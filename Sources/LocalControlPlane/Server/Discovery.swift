import KubeWatch

/// `/api`, `/apis`, group and group-version documents, legacy and aggregated (v2), built from
/// whatever is registered at the moment, so a CRD is discoverable as soon as it is established.
enum Discovery {
    static func coreVersions(serverAddress: String) -> JSON {
        [
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]],
        ]
    }

    /// Groups in a stable order: built-ins first as registered, then custom groups by name.
    static func groups(_ definitions: [ResourceDefinition]) -> [(name: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for definition in definitions where !definition.group.isEmpty {
            if versions[definition.group] == nil { order.append(definition.group) }
            for version in definition.versions where !(versions[definition.group] ?? []).contains(version) {
                versions[definition.group, default: []].append(version)
            }
        }
        return order.map { ($0, versions[$0] ?? []) }
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
                var entry: JSON = [
                    "resource": .string(definition.plural),
                    "responseKind": ["group": "", "version": "", "kind": .string(definition.kind)],
                    "scope": definition.namespaced ? "Namespaced" : "Cluster",
                    "singularResource": .string(definition.singular),
                    "verbs": .array(definition.verbs.map(JSON.string)),
                ]
                if !definition.shortNames.isEmpty { entry["shortNames"] = .array(definition.shortNames.map(JSON.string)) }
                if !definition.categories.isEmpty { entry["categories"] = .array(definition.categories.map(JSON.string)) }
                if definition.hasStatusSubresource {
                    entry["subresources"] = [[
                        "subresource": "status", "responseKind": ["group": "", "version": "", "kind": .string(definition.kind)],
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
