import Foundation
import LocalControlPlane
var options = LocalControlPlane.Options()
options.port = 18080
options.bookmarkInterval = 2
let cp = LocalControlPlane(options: options)
try cp.start()
try cp.kubeconfig().write(toFile: "/tmp/lcp.kubeconfig", atomically: true, encoding: .utf8)
print("listening", cp.baseURL)
while true { sleep(1000) }
