import Foundation
import KubeCore

/// TokenReview (authentication.k8s.io/v1) and SubjectAccessReview (authorization.k8s.io/v1), as
/// kube-apiserver answers them: create-only, never stored, the answer in `status`. What a
/// component that guards its own endpoints (controller-runtime's secure metrics, kube-rbac-proxy)
/// asks: who holds this token, and may they `get` this path or resource.
enum Reviews {
    static let tokenReviews = "/apis/authentication.k8s.io/v1/tokenreviews"
    static let subjectAccessReviews = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

    static func answer(path: String, body: JSON, authorizer: Authorizer, view: AdmissionView) -> JSON? {
        var review = body
        switch path {
        case tokenReviews:
            let token = body[path: ["spec", "token"]]?.stringValue ?? ""
            // Only tokens issued to accounts: the admin's kubeconfig token is not a review's subject.
            if !token.isEmpty, token != Authorizer.adminToken, let identity = authorizer.authenticate("Bearer " + token) {
                review["status"] = ["authenticated": true, "user": ["username": .string(identity.user), "groups": .array(identity.groups.map(JSON.string))]]
            } else {
                review["status"] = ["authenticated": false, "error": "invalid bearer token"]
            }
        case subjectAccessReviews:
            let spec = body["spec"]
            let identity = Identity(user: spec?["user"]?.stringValue ?? "", groups: (spec?["groups"]?.arrayValue ?? []).compactMap(\.stringValue))
            let allowed: Bool
            if let attributes = spec?["nonResourceAttributes"] {
                allowed = authorizer.allowsNonResource(identity, path: attributes["path"]?.stringValue ?? "", verb: attributes["verb"]?.stringValue ?? "", view: view)
            } else {
                let attributes = spec?["resourceAttributes"]
                let resource = [attributes?["resource"]?.stringValue, attributes?["subresource"]?.stringValue].compactMap { $0.flatMap { $0.isEmpty ? nil : $0 } }.joined(separator: "/")
                allowed = authorizer.allowsResource(
                    identity, verb: attributes?["verb"]?.stringValue ?? "", group: attributes?["group"]?.stringValue ?? "", resource: resource,
                    namespace: attributes?["namespace"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }, name: attributes?["name"]?.stringValue, view: view)
            }
            review["status"] = allowed ? ["allowed": true, "reason": "RBAC: allowed"] : ["allowed": false]
        default:
            return nil
        }
        return review
    }
}
