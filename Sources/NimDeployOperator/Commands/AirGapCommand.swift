import Foundation
import KubeCore
import NimDeployManager
import Reconciler

/// `airgap`: everything an admin needs to run NIMs in a cluster with no route to NGC, from the
/// catalog and a choice of models, written to one directory (see `AirGapPlan`).
///
/// Exit status: 0 written; 3 written, but some models or tags asked for are not in the
/// catalog (a person should look); 1 nothing written; 2 usage.
enum AirGapCommand {
    struct Options: Sendable {
        var catalog: String
        var mirror: String
        var models: [String]?
        var tags: AirGapPlan.Tags = .latest
        var output = "airgap"
        var namespace = "nim-deploy-operator-system"
        var operatorImage: ImageReference?
    }

    static let valueFlags: Set<String> = ["catalog", "mirror", "models", "tags", "output", "namespace", "operator-image"]
    static let switchFlags: Set<String> = ["help"]

    static func options(_ arguments: Arguments) throws(Arguments.UsageError) -> Options {
        guard let catalog = arguments.value("catalog") else { throw Arguments.UsageError(message: "airgap needs --catalog FILE (a catalog ConfigMap or models.json)") }
        guard let mirror = arguments.value("mirror") else { throw Arguments.UsageError(message: "airgap needs --mirror HOST[:PORT][/PATH], the registry the images go to") }
        guard case .success = RegistryMirror.parse("nvcr.io=\(mirror)") else {
            throw Arguments.UsageError(message: "--mirror must be a registry host with an optional path (registry.corp:5000/nvidia), not \"\(mirror)\"")
        }
        var options = Options(catalog: catalog, mirror: mirror)
        options.models = arguments.value("models").map(Self.list)
        switch arguments.value("tags") {
        case nil, "latest": options.tags = .latest
        case "all": options.tags = .all
        case let named?:
            let tags = list(named)
            guard !tags.isEmpty else { throw Arguments.UsageError(message: "--tags must be latest, all or a list of tags") }
            options.tags = .named(tags)
        }
        options.output = arguments.value("output") ?? options.output
        options.namespace = arguments.value("namespace") ?? options.namespace
        if let image = arguments.value("operator-image") {
            guard let parsed = ImageReference(parsing: image) else { throw Arguments.UsageError(message: "--operator-image \"\(image)\" is not an image reference") }
            options.operatorImage = parsed
        }
        return options
    }

    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The files it writes, and what each is for (the README of the directory says the same).
    static let files: [(name: String, what: String)] = [
        ("images.txt", "the images to mirror, one per line"),
        ("mirror.sh", "copies them with skopeo (SRC_AUTHFILE, DEST_AUTHFILE: auth files, never a key on the command line)"),
        ("imageset-config.yaml", "the same for oc-mirror: oc mirror -c imageset-config.yaml docker://MIRROR"),
        ("mirror-sets.yaml", "OpenShift: ImageTagMirrorSet and ImageDigestMirrorSet redirecting the source registries to the mirror"),
        ("catalog.yaml", "the catalog ConfigMap of what was mirrored, for the disconnected cluster"),
        ("values-openshift.yaml", "Helm values for OpenShift (disconnected; the mirror sets redirect)"),
        ("values-kubernetes.yaml", "Helm values for plain Kubernetes (disconnected; the operator writes the mirror's names)"),
        ("nimdeployments.yaml", "a NimDeployment per model mirrored"),
    ]

    static func execute(_ options: Options) async -> Int32 {
        let read: (configMap: KubeObject, catalog: ModelCatalog, problems: [ModelCatalog.Problem])
        do {
            read = try CatalogManifest.read(try CatalogCommand.readText(options.catalog))
        } catch {
            StandardStreams.say("airgap: \(options.catalog): \(error)")
            return 1
        }
        let plan = AirGapPlan(
            catalog: read.catalog, models: options.models, tags: options.tags, mirror: options.mirror, extraImages: options.operatorImage.map { [$0] } ?? [])
        for problem in plan.missing { StandardStreams.say("airgap: \(problem)") }
        guard !plan.catalog.entries.isEmpty else {
            StandardStreams.say("airgap: no model of the catalog was chosen; nothing written")
            return 1
        }
        let contents: [String: String] = [
            "images.txt": plan.imageList, "mirror.sh": plan.skopeoScript, "imageset-config.yaml": plan.imageSetConfiguration,
            "mirror-sets.yaml": plan.mirrorSets, "catalog.yaml": plan.catalogConfigMap(namespace: options.namespace, generatedAt: CatalogFetch.generatedAt()),
            "values-openshift.yaml": plan.helmValues(openShift: true, operatorImage: options.operatorImage),
            "values-kubernetes.yaml": plan.helmValues(openShift: false, operatorImage: options.operatorImage),
            "nimdeployments.yaml": plan.nimDeployments,
        ]
        let directory = URL(fileURLWithPath: options.output)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for (name, _) in files {
                let url = directory.appendingPathComponent(name)
                try Data((contents[name] ?? "").utf8).write(to: url)
                if name.hasSuffix(".sh") { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path) }
            }
        } catch {
            StandardStreams.say("airgap: cannot write \(options.output): \(error)")
            return 1
        }
        StandardStreams.say("airgap: \(plan.catalog.entries.count) model\(plan.catalog.entries.count == 1 ? "" : "s"), \(plan.images.count) image\(plan.images.count == 1 ? "" : "s") to \(options.mirror); wrote to \(options.output)/:")
        for (name, what) in files { StandardStreams.say("  \(name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(what)") }
        return plan.missing.isEmpty ? 0 : CatalogCommand.incomplete
    }
}
