import Foundation
import KubeCore
import NimDeployManager

/// `nim-deploy-demo`: the operator with no cluster. Its own program, so the operator binary (and
/// the image) carry no control plane and no stand-in.
enum Usage {
    static let demo = """
        Usage: nim-deploy-demo [options]

        Starts a Kubernetes API server in this process (loopback, plain HTTP), installs the CRDs
        and samples, runs the controller on it and prints what it made. A kubeconfig for kubectl
        is written so you can look around while it runs.

        Options:
          --once                      converge, print, exit 0 (what CI and the README run)
          --port N                    API server port (default: any free port)
          --kubeconfig-out PATH       where to write the kubeconfig (default: ./demo.kubeconfig)
          --timeout SECONDS           give up converging after this long with --once (default 60)
          --log-level LEVEL           as for run (default warn, so the tables stay readable)
        """
}

func main(_ arguments: [String]) async -> Int32 {
    do {
        return try await subcommand(arguments, DemoCommand.valueFlags, DemoCommand.switchFlags, usage: Usage.demo,
                                    parse: DemoCommand.options, execute: DemoCommand.execute)
    } catch {
        StandardStreams.complain("nim-deploy-demo: \(error)\nRun 'nim-deploy-demo --help' for usage.")
        return 2
    }
}

exit(await main(Array(CommandLine.arguments.dropFirst())))
