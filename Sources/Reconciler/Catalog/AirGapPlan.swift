import Foundation
import KubeCore

/// What an air-gapped install needs, from a catalog and a choice of models and tags: the images
/// to mirror, how to copy them (skopeo, oc-mirror), how the cluster finds them (OpenShift's
/// ImageTagMirrorSet and ImageDigestMirrorSet; the operator's own rewrite on plain Kubernetes),
/// the catalog of what was mirrored, and the NimDeployments and Helm values that use them.
public struct AirGapPlan: Sendable {
    public enum Tags: Sendable, Equatable {
        /// Each model's latest tag.
        case latest
        case all
        case named([String])
    }

    /// Where the images go: `host[:port][/path]`.
    public var mirror: String
    /// The selected entries, their tags cut to the ones mirrored.
    public var catalog: ModelCatalog
    /// Images to copy, source first, in a stable order.
    public var images: [(source: ImageReference, target: ImageReference)]
    /// What was asked for and is not in the catalog.
    public var missing: [String]
    /// One mirror per source registry (`RegistryMirror.pathBelowMirror`).
    public var mirrors: [RegistryMirror]

    public init(catalog source: ModelCatalog, models: [String]?, tags: Tags, mirror: String, extraImages: [ImageReference] = []) {
        self.mirror = mirror
        var missing: [String] = []
        var chosen: [String: ModelCatalog.Entry] = [:]
        let names = models ?? source.modelNames
        for model in names {
            guard var entry = source[model] else {
                let near = source.suggestions(for: ModelCatalog.name(of: model))
                missing.append("model \(model) is not in the catalog" + (near.isEmpty ? "" : " (similar: \(near.joined(separator: ", ")))"))
                continue
            }
            let wanted: [String]
            switch tags {
            case .latest: wanted = [entry.latestTag]
            case .all: wanted = entry.tags
            case .named(let list):
                wanted = list.filter(entry.tags.contains)
                for tag in list where !entry.tags.contains(tag) { missing.append("model \(entry.name) has no tag \(tag)") }
            }
            guard !wanted.isEmpty else { continue }
            entry.tags = wanted
            if !wanted.contains(entry.latestTag) { entry.latestTag = wanted[0] }
            chosen[entry.name] = entry
        }
        catalog = ModelCatalog(entries: chosen)
        self.missing = missing
        let sources = (chosen.values.flatMap { entry in entry.tags.map(entry.imageReference(tag:)) } + extraImages)
            .sorted { $0.description < $1.description }
        let registries = Set(sources.map(\.registry)).sorted()
        mirrors = registries.map { registry in
            let below = RegistryMirror.pathBelowMirror(registry: registry, path: "")
            return RegistryMirror(source: registry, mirror: below.isEmpty ? mirror : "\(mirror)/\(below)")
        }
        let mirrors = self.mirrors
        images = sources.map { ($0, RegistryMirror.pulled($0, mirrors: mirrors)) }
    }

    // MARK: - What it writes

    /// One source image per line.
    public var imageList: String { images.map { $0.source.description + "\n" }.joined() }

    /// A bash script copying every image with skopeo: all architectures, digests kept, retried;
    /// credentials only from auth files (never a key on a command line, where `ps` shows it).
    public var skopeoScript: String {
        var script = """
            #!/usr/bin/env bash
            # Copies \(images.count) image\(images.count == 1 ? "" : "s") to \(mirror) with skopeo: every architecture (--all),
            # digests kept (--preserve-digests), so tags and digests resolve alike in the mirror.
            #
            # Credentials come from auth files only (containers-auth.json(5), as `skopeo login --authfile`
            # or `podman login --authfile` write them), never from the command line:
            #   SRC_AUTHFILE   for nvcr.io: user $oauthtoken, password an NGC API key
            #   DEST_AUTHFILE  for the mirror (default: SRC_AUTHFILE)
            #   SKOPEO_FLAGS   more skopeo copy flags (such as --dest-cert-dir DIR for a private CA)
            set -euo pipefail
            args=(--all --preserve-digests --retry-times 3)
            if [ -n "${SRC_AUTHFILE:-}" ]; then args+=(--src-authfile "$SRC_AUTHFILE"); fi
            if [ -n "${DEST_AUTHFILE:-${SRC_AUTHFILE:-}}" ]; then args+=(--dest-authfile "${DEST_AUTHFILE:-$SRC_AUTHFILE}"); fi
            read -r -a extra <<< "${SKOPEO_FLAGS:-}"
            copy() {
              echo "copying $1 -> $2" >&2
              skopeo copy "${args[@]}" "${extra[@]}" "docker://$1" "docker://$2"
            }

            """
        // Quoted: a catalog's image names are data, never shell.
        func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        for (source, target) in images { script += "copy \(quoted(source.description)) \(quoted(target.description))\n" }
        return script
    }

    /// oc-mirror v2's ImageSetConfiguration (`oc mirror -c imageset-config.yaml`).
    public var imageSetConfiguration: String {
        YAML.emit([
            "kind": "ImageSetConfiguration", "apiVersion": "mirror.openshift.io/v2alpha1",
            "mirror": ["additionalImages": .array(images.map { ["name": .string($0.source.description)] })],
        ])
    }

    /// OpenShift's cluster-wide redirects: by tag and by digest. NeverContactSource: an
    /// air-gapped node fails at once on an image the mirror lacks, rather than after a timeout.
    public var mirrorSets: String {
        let entries: JSON = .array(mirrors.map { ["source": .string($0.source), "mirrors": [.string($0.mirror)], "mirrorSourcePolicy": "NeverContactSource"] })
        return YAML.emitAll([
            ["apiVersion": "config.openshift.io/v1", "kind": "ImageTagMirrorSet", "metadata": ["name": "nim-registry-mirror"], "spec": ["imageTagMirrors": entries]],
            ["apiVersion": "config.openshift.io/v1", "kind": "ImageDigestMirrorSet", "metadata": ["name": "nim-registry-mirror"], "spec": ["imageDigestMirrors": entries]],
        ])
    }

    /// The catalog ConfigMap of what was mirrored, for the disconnected cluster. Its images keep
    /// their nvcr.io names: the mirror sets (OpenShift) or `--image-registry-mirror` redirect them.
    public func catalogConfigMap(namespace: String, generatedAt: String) -> String {
        CatalogManifest.yaml(catalog, shape: .modelsJSON, namespace: namespace, generatedAt: generatedAt)
    }

    /// The chart's values for the disconnected cluster; `openShift` relies on the mirror sets,
    /// plain Kubernetes on the operator's rewrite.
    public func helmValues(openShift: Bool, operatorImage: ImageReference?) -> String {
        var values: JSON = [
            "disconnected": true,
            "catalog": ["create": false, "name": .string(CatalogManifest.defaultName)],
        ]
        if !openShift {
            values["imageRegistryMirrors"] = .array(mirrors.map { ["source": .string($0.source), "mirror": .string($0.mirror)] })
            values["mirrorPullSecret"] = "none"
            if let operatorImage {
                let pulled = RegistryMirror.pulled(operatorImage, mirrors: mirrors)
                values["image"] = ["repository": .string(pulled.repository), "tag": .string(pulled.tag ?? "latest")]
            }
        }
        return "# Helm values for the disconnected cluster (\(openShift ? "OpenShift: the mirror sets redirect the pulls" : "plain Kubernetes: the operator writes the mirror's names")).\n"
            + YAML.emit(values)
    }

    /// `llama-3.1-8b-instruct` as a name a person would give it: `llama-3-1-8b-instruct`.
    static func deploymentName(_ model: String) -> String {
        let dashed = String(model.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
        let trimmed = dashed.split(separator: "-").joined(separator: "-")
        let fitted = String(trimmed.prefix(53)).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return fitted.first?.isLetter == true ? fitted : "nim-" + fitted
    }

    /// One NimDeployment per model mirrored, on its latest mirrored tag.
    public var nimDeployments: String {
        let documents: [JSON] = catalog.modelNames.compactMap { catalog[$0] }.map { entry in
            [
                "apiVersion": .string(NimDeployment.resource.apiVersion), "kind": .string(NimDeployment.resource.kind),
                "metadata": ["name": .string(Self.deploymentName(entry.name))],
                "spec": ["model": .string(entry.id ?? entry.name), "tag": .string(entry.latestTag)],
            ]
        }
        return YAML.emitAll(documents)
    }
}
