/// What `--help` prints, per command.
enum Usage {
    static let main = """
        nim-deploy-operator: runs NVIDIA NIM models on KServe from one NimDeployment per model.

        Usage:
          nim-deploy-operator <command> [options]

        Commands:
          run       Run the controller against a cluster (kubeconfig or in-cluster service account).
          demo      Start a local Kubernetes control plane in this process and run the controller
                    on it; no cluster needed. With --once it converges, prints what exists, exits.
          version   Print the version and the libraries it was built with.
          help      Show this help, or a command's help: nim-deploy-operator help run

        Run 'nim-deploy-operator <command> --help' for a command's options.
        """

    static let run = """
        Usage: nim-deploy-operator run [options]

        Runs the controller. Configuration is found as controller-runtime finds it: --kubeconfig,
        then $KUBECONFIG, then the in-cluster service account, then ~/.kube/config.

        Options:
          --kubeconfig PATH                 kubeconfig file
          --context NAME                    kubeconfig context (default: current)
          --namespace NS                    the operator's own namespace: default catalog, Lease
                                            (default: the pod's namespace, else nim-deploy-operator-system)
          --watch-namespaces a,b            only these namespaces (default: all)
          --catalog NS/NAME                 model catalog ConfigMap (default: <namespace>/nim-model-metadata)
          --ngc-api-url URL                 NGC API base URL (default: https://api.ngc.nvidia.com)
          --disable-key-validation          never call NGC to validate keys
          --disconnected                    air-gapped: no key collection, no Secrets, no NGC
          --region REGION                   EU refuses EU-restricted models
          --migrate-legacy                  migrate legacy deployments in every watched namespace
          --leader-elect                    Lease-based leader election (on in config/ and the chart)
          --metrics-bind-address ADDR       /metrics (default :8080; 0 disables)
          --health-probe-bind-address ADDR  /healthz and /readyz (default :8081; 0 disables)
          --concurrency N                   reconcile workers (default 4)
          --sync-period DURATION            reconcile everything this often even without changes (default 10h)
          --key-rotation-settle DURATION    act on a changed key once its Secret has been quiet this long,
                                            so a burst of writes rolls the pods once (default 100ms; 0: at once)
          --log-level LEVEL                 debug, info, warn or error; JSON lines on stderr (default info)

        Stops on SIGTERM or SIGINT: takes no new work, finishes what is in flight (30 s at most),
        releases the Lease. SIGHUP reconciles every deployment once.
        """

    static let demo = """
        Usage: nim-deploy-operator demo [options]

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

    static let version = """
        Usage: nim-deploy-operator version

        Prints the version and the libcurl and libyaml it runs with.
        """
}
