import Foundation
import KubeCore

/// Reads kubeconfig files (`clientcmd/api/v1`): clusters, users and contexts, with several files
/// merged the way client-go merges `$KUBECONFIG` — the first file to define a name wins, and the
/// first `current-context` wins; paths inside a file are relative to that file.
public enum KubeConfigLoader {
    struct Named {
        var value: JSON
        var directory: String
        var file: String
    }

    struct Merged {
        var clusters: [String: Named] = [:]
        var users: [String: Named] = [:]
        var contexts: [String: Named] = [:]
        var currentContext: String?
        var files: [String] = []
    }

    /// Loads and merges `paths`. An explicit path must exist; in a `$KUBECONFIG` list, missing
    /// files are skipped, as kubectl skips them.
    public static func load(paths: [String], explicit: Bool, context requested: String?) throws(ConfigError) -> ClientConfiguration {
        var merged = Merged()
        for path in paths {
            let expanded = (path as NSString).expandingTildeInPath
            guard let data = FileManager.default.contents(atPath: expanded) else {
                if explicit || FileManager.default.fileExists(atPath: expanded) {
                    throw ConfigError("cannot read kubeconfig \(expanded): no such file or not readable")
                }
                continue
            }
            let document: JSON
            do {
                document = try YAML.parse(String(decoding: data, as: UTF8.self))
            } catch {
                throw ConfigError("kubeconfig \(expanded) is not valid YAML: \(error)")
            }
            guard document.objectValue != nil else { throw ConfigError("kubeconfig \(expanded) is not a YAML mapping") }
            merge(document, file: expanded, into: &merged)
        }
        guard !merged.files.isEmpty else {
            throw ConfigError("none of the kubeconfig files exist: \(paths.joined(separator: ", "))")
        }
        return try resolve(merged, context: requested)
    }

    /// Parses one kubeconfig from text (tests, and configs passed around in memory).
    public static func load(yaml: String, directory: String = FileManager.default.currentDirectoryPath, context: String? = nil) throws(ConfigError) -> ClientConfiguration {
        let document: JSON
        do { document = try YAML.parse(yaml) } catch { throw ConfigError("kubeconfig is not valid YAML: \(error)") }
        var merged = Merged()
        merge(document, file: directory + "/<inline>", into: &merged)
        return try resolve(merged, context: context)
    }

    static func merge(_ document: JSON, file: String, into merged: inout Merged) {
        let directory = (file as NSString).deletingLastPathComponent
        merged.files.append(file)
        func add(_ list: String, _ field: String, to table: inout [String: Named]) {
            for entry in document[list]?.arrayValue ?? [] {
                guard let name = entry["name"]?.stringValue, table[name] == nil else { continue }
                table[name] = Named(value: entry[field] ?? [:], directory: directory, file: file)
            }
        }
        add("clusters", "cluster", to: &merged.clusters)
        add("users", "user", to: &merged.users)
        add("contexts", "context", to: &merged.contexts)
        if merged.currentContext == nil, let current = document["current-context"]?.stringValue, !current.isEmpty {
            merged.currentContext = current
        }
    }

    static func resolve(_ merged: Merged, context requested: String?) throws(ConfigError) -> ClientConfiguration {
        let files = merged.files.joined(separator: ", ")
        guard let contextName = requested ?? merged.currentContext else {
            throw ConfigError("kubeconfig \(files) has no current-context; pass --context (contexts: \(merged.contexts.keys.sorted().joined(separator: ", ")))")
        }
        guard let context = merged.contexts[contextName] else {
            throw ConfigError(
                "context \"\(contextName)\" not found in kubeconfig \(files) (contexts: \(merged.contexts.keys.sorted().joined(separator: ", ")))")
        }
        guard let clusterName = context.value["cluster"]?.stringValue, let cluster = merged.clusters[clusterName] else {
            throw ConfigError("cluster \"\(context.value["cluster"]?.stringValue ?? "")\" of context \"\(contextName)\" not found in kubeconfig \(files)")
        }
        guard let server = cluster.value["server"]?.stringValue, !server.isEmpty else {
            throw ConfigError("cluster \"\(clusterName)\" in kubeconfig \(cluster.file) has no server")
        }
        guard server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw ConfigError("cluster \"\(clusterName)\" in kubeconfig \(cluster.file): server \"\(server)\" must start with https:// or http://")
        }
        var tls = TLSOptions()
        tls.insecureSkipVerify = cluster.value["insecure-skip-tls-verify"]?.boolValue ?? false
        tls.certificateAuthority = try material(
            cluster.value, data: "certificate-authority-data", file: "certificate-authority", directory: cluster.directory,
            what: "cluster \"\(clusterName)\"")
        var credentials = Credentials.none
        if let userName = context.value["user"]?.stringValue, !userName.isEmpty {
            guard let user = merged.users[userName] else {
                throw ConfigError("user \"\(userName)\" of context \"\(contextName)\" not found in kubeconfig \(files)")
            }
            let what = "user \"\(userName)\""
            tls.clientCertificate = try material(user.value, data: "client-certificate-data", file: "client-certificate", directory: user.directory, what: what)
            tls.clientKey = try material(user.value, data: "client-key-data", file: "client-key", directory: user.directory, what: what)
            if (tls.clientCertificate == nil) != (tls.clientKey == nil) {
                throw ConfigError("\(what) in kubeconfig \(user.file) has a client certificate without a key, or a key without a certificate")
            }
            credentials = try userCredentials(user, what: what)
        }
        let namespace = context.value["namespace"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        var configuration = ClientConfiguration(
            server: server, tls: tls, credentials: credentials, namespace: namespace,
            source: "kubeconfig \(files) (context \(contextName))")
        if let proxy = cluster.value["proxy-url"]?.stringValue, !proxy.isEmpty {
            guard proxy.hasPrefix("http://") || proxy.hasPrefix("https://") || proxy.hasPrefix("socks5://") else {
                throw ConfigError("cluster \"\(clusterName)\" in kubeconfig \(cluster.file): proxy-url \"\(proxy)\" must start with http://, https:// or socks5://")
            }
            configuration.proxy = ProxySettings(url: proxy)
        }
        return configuration
    }

    static func userCredentials(_ user: Named, what: String) throws(ConfigError) -> Credentials {
        let value = user.value
        if let token = value["token"]?.stringValue, !token.isEmpty { return .bearer(token) }
        if let file = value["tokenFile"]?.stringValue, !file.isEmpty {
            return .bearerFile(TokenFile(path: absolute(file, directory: user.directory)))
        }
        if let username = value["username"]?.stringValue, !username.isEmpty {
            return .basic(username: username, password: value["password"]?.stringValue ?? "")
        }
        if let exec = value["exec"], exec.objectValue != nil {
            return .exec(try ExecCredentialPlugin(exec, directory: user.directory, what: what))
        }
        if value["auth-provider"] != nil {
            throw ConfigError(
                "\(what) in kubeconfig \(user.file) uses auth-provider \"\(value[path: ["auth-provider", "name"]]?.stringValue ?? "")\", which is not supported; use an exec plugin")
        }
        return .none
    }

    /// PEM from `*-data` (base64) or from a file (relative to the kubeconfig's directory).
    static func material(_ object: JSON, data: String, file: String, directory: String, what: String) throws(ConfigError) -> [UInt8]? {
        if let encoded = object[data]?.stringValue, !encoded.isEmpty {
            guard let decoded = Data(base64Encoded: encoded.filter { !$0.isWhitespace }) else {
                throw ConfigError("\(what): \(data) is not valid base64")
            }
            return [UInt8](decoded)
        }
        if let path = object[file]?.stringValue, !path.isEmpty {
            let resolved = absolute(path, directory: directory)
            guard let contents = FileManager.default.contents(atPath: resolved) else {
                throw ConfigError("\(what): \(file) \(resolved) cannot be read")
            }
            return [UInt8](contents)
        }
        return nil
    }

    static func absolute(_ path: String, directory: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        return expanded.hasPrefix("/") ? expanded : (directory as NSString).appendingPathComponent(expanded)
    }
}
