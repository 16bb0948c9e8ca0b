import CCurl
import CYaml

enum NimDeployVersion {
    static let current = "0.1.0"

    static var description: String {
        let curl = String(cString: curl_version())
        let yaml = String(cString: yaml_get_version_string())
        return "nim-deploy-operator \(current) (commit \(BuildInfo.commit))\n\(curl)\nlibyaml/\(yaml)"
    }
}
