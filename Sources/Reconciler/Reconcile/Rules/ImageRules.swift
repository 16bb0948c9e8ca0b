
/// The image to run: spec.image as given, or the catalog's entry for spec.model and tag; and
/// the warning an EU-restricted model gets where this operator does not serve the EU.
enum ImageRules {
    static func resolve(
        _ spec: NimDeployment.Spec, catalog state: CatalogStore.State, source: String, options: ReconcilerOptions
    ) throws(DeploymentProblem) -> (image: ResolvedImage, regionWarning: String?) {
        var entry: ModelCatalog.Entry?
        if case .loaded(let catalog, _) = state, let model = spec.model { entry = catalog[model] }
        if let text = spec.image {
            guard let reference = ImageReference(parsing: text) else { throw .invalidSpec("spec.image \"\(text)\" is not an image reference") }
            let model = spec.model.map(ModelCatalog.name) ?? reference.name
            let resolved = ResolvedImage(
                image: reference, model: model, tag: reference.tag ?? reference.digest ?? "latest", displayName: entry?.displayName ?? model,
                euRestricted: entry?.euRestricted ?? false)
            return (resolved, try regionWarning(resolved, options: options))
        }
        let model = spec.model ?? ""
        switch state {
        case .notLoaded: throw .catalogUnavailable(catalog: source, why: "not read yet")
        case .missing: throw .catalogUnavailable(catalog: source, why: "the ConfigMap does not exist")
        case .loaded(let catalog, let problems):
            guard let entry = catalog[model] else {
                if catalog.entries.isEmpty {
                    throw .catalogUnavailable(catalog: source, why: "it lists no usable model: " + problems.filter { $0.severity == .error }.prefix(3).map(\.description).joined(separator: "; "))
                }
                throw .modelNotFound(model: model, catalog: source, suggestions: catalog.suggestions(for: ModelCatalog.name(of: model)))
            }
            let tag = spec.tag ?? entry.latestTag
            guard entry.tags.contains(tag) else { throw .tagNotFound(model: model, tag: tag, available: entry.tags) }
            let resolved = ResolvedImage(
                image: entry.imageReference(tag: tag), model: entry.name, tag: tag, displayName: entry.displayName, euRestricted: entry.euRestricted,
                catalogEntry: entry.id ?? entry.name)
            return (resolved, try regionWarning(resolved, options: options))
        }
    }

    /// Refused in the EU; a warning elsewhere.
    static func regionWarning(_ image: ResolvedImage, options: ReconcilerOptions) throws(DeploymentProblem) -> String? {
        guard image.euRestricted else { return nil }
        if options.refusesEURestricted { throw .regionRestricted(model: image.model) }
        return "Model \(image.model) is not available in the EU; it is deployed because this operator does not serve the EU region."
    }
}
