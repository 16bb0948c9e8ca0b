
/// The other workload kinds with pod templates: what a cleanup must look through before it
/// deletes a Secret (a StatefulSet scaled to zero, a CronJob between runs, have no Pod).
extension BuiltinResources {
    static func workload(group: String, plural: String, kind: String, template: String, shortNames: [String]) -> ResourceDefinition {
        ResourceDefinition(
            group: group, versions: ["v1"], plural: plural, singular: kind.lowercased(), kind: kind, listKind: "\(kind)List",
            namespaced: true, shortNames: shortNames, categories: ["all"], hasStatusSubresource: true, hasGeneration: true,
            listTypes: podSpecListTypes(prefix: template))
    }

    static let statefulSets = workload(group: "apps", plural: "statefulsets", kind: "StatefulSet", template: "spec.template.spec", shortNames: ["sts"])
    static let daemonSets = workload(group: "apps", plural: "daemonsets", kind: "DaemonSet", template: "spec.template.spec", shortNames: ["ds"])
    static let replicaSets = workload(group: "apps", plural: "replicasets", kind: "ReplicaSet", template: "spec.template.spec", shortNames: ["rs"])
    static let jobs = workload(group: "batch", plural: "jobs", kind: "Job", template: "spec.template.spec", shortNames: [])
    static let cronJobs = workload(group: "batch", plural: "cronjobs", kind: "CronJob", template: "spec.jobTemplate.spec.template.spec", shortNames: ["cj"])
}
