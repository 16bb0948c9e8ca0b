import Foundation

/// Which proxy a request goes through, as Go's `ProxyFromEnvironment` (and so client-go and
/// controller-runtime) decides it: `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for http ones,
/// either spelling, and none for hosts `NO_PROXY` lists (names, `.domain` suffixes, IP
/// addresses and CIDRs, or `*`). Loopback is never proxied.
public struct ProxySettings: Sendable, Hashable {
    public var httpProxy: String?
    public var httpsProxy: String?
    public var noProxy: [String]

    public static let loopback = ["127.0.0.1", "localhost", "::1"]

    public init(httpProxy: String? = nil, httpsProxy: String? = nil, noProxy: [String] = []) {
        self.httpProxy = httpProxy
        self.httpsProxy = httpsProxy
        self.noProxy = noProxy
    }

    /// One proxy for both schemes (a kubeconfig's `proxy-url`, a `--ngc-proxy` flag).
    public init(url: String, noProxy: [String] = []) {
        self.init(httpProxy: url, httpsProxy: url, noProxy: noProxy)
    }

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ProxySettings {
        // Go's getEnvAny: the first spelling that is set and not empty.
        func value(_ name: String) -> String? {
            [name, name.lowercased()].lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        return ProxySettings(httpProxy: value("HTTP_PROXY"), httpsProxy: value("HTTPS_PROXY"), noProxy: list(value("NO_PROXY") ?? ""))
    }

    /// A proxy URL fit for a log line: a user and password in it are replaced.
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@"),
            !url[scheme.upperBound..<at].contains("/")
        else { return url }
        return url[..<scheme.upperBound] + "REDACTED@" + url[url.index(after: at)...]
    }

    /// `a, b,c` as a list.
    public static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The proxy for a URL's scheme (the hosts reached directly are libcurl's to match).
    func proxy(for url: String) -> String? { url.hasPrefix("https://") ? httpsProxy : httpProxy }

    /// libcurl's `CURLOPT_NOPROXY`: the list and loopback.
    var curlNoProxy: String { (noProxy + Self.loopback.filter { !noProxy.contains($0) }).joined(separator: ",") }
}
