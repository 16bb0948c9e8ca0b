/// What `--help` prints, per command.
enum Usage {
    static let main = """
        nim-deploy-operator: runs NVIDIA NIM models on KServe from one NimDeployment per model.

        Usage:
          nim-deploy-operator <command> [options]

        Commands:
          run       Run the controller against a cluster (kubeconfig or in-cluster service account).
          migrate   Move legacy NIM deployments (shared Secrets nvidia-nim-secrets, ngc-secret) to
                    per-deployment Secrets; clean up; print NimDeployments that adopt them.
          catalog   Build, check and compare the model catalog ConfigMap: generate, detect-eu,
                    validate, diff.
          airgap    Write what an air-gapped install needs: the images to mirror, a skopeo script,
                    an oc-mirror ImageSetConfiguration, ImageTagMirrorSet/ImageDigestMirrorSet, the
                    catalog of what was mirrored, Helm values and NimDeployments.
          template  Print the OpenShift Templates the Open Data Hub dashboard processes to make the
                    same ServingRuntime as the operator (nvidia-nim-http-template, -grpc-template).
          version   Print the version and the libraries it was built with.
          help      Show this help, or a command's help: nim-deploy-operator help run

        Run 'nim-deploy-operator <command> --help' for a command's options. The demo, the operator
        on a local control plane with no cluster, is its own program: nim-deploy-demo (scripts/demo).
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
          --ngc-timeout DURATION            an NGC call slower than this counts as no answer (default 10s)
          --ngc-proxy URL                   proxy for NGC calls (default: HTTPS_PROXY from the environment)
          --ngc-no-proxy LIST               hosts, .domains and CIDRs NGC calls reach directly (default: NO_PROXY)
          --ngc-ca-bundle FILE              PEM certificates trusted for NGC calls beside the system's (a TLS-inspecting proxy)
          --nim-fs-group auto|none|GID      the NIM pods' fsGroup when a spec sets none; auto: none on OpenShift, else 1000 (default auto)
          --image-registry-mirror SRC=MIRROR[,...]  pull images under SRC (nvcr.io) from MIRROR (registry.corp:5000/nvidia)
          --mirror-pull-secret ngc-key|none|NAME    mirrored images' pull secret: the NGC key for the mirror's host, none, or a Secret (default ngc-key)
          --disable-key-validation          never call NGC to validate keys
          --no-pod-monitors                 make no PodMonitor per deployment, even where the Prometheus Operator is installed
          --pod-monitor-labels K=V,...      labels the PodMonitors carry, for Prometheus' podMonitorSelector
          --disconnected                    air-gapped: no key collection, no Secrets, no NGC
          --region REGION                   EU refuses EU-restricted models
          --migrate-legacy                  migrate legacy deployments in every watched namespace
          --leader-elect                    Lease-based leader election (on in config/ and the chart)
          --metrics-bind-address ADDR       /metrics (default :8080; 0 disables)
          --metrics-auth token|none         token: /metrics answers only a bearer token the API server accepts for a
                                            user allowed to get /metrics (TokenReview, SubjectAccessReview); 401 or
                                            403 otherwise. none: anyone who reaches the port (default token)
          --health-probe-bind-address ADDR  /healthz and /readyz (default :8081; 0 disables)
          --concurrency N                   reconcile workers (default 16)
          --sync-period DURATION            reconcile everything this often even without changes (default 10h)
          --key-rotation-settle DURATION    a key change is acted on at once; one within this long of the last
                                            waits until its Secret is quiet this long, so a burst rolls the pods
                                            twice at most, onto its first key and its last (default 2s; 0: each at once)
          --log-level LEVEL                 debug, info, warn or error; JSON lines on stderr (default info)

        Stops on SIGTERM or SIGINT: takes no new work, finishes what is in flight (30 s at most),
        releases the Lease. SIGHUP reconciles every deployment once.
        """

    static let migrate = """
        Usage: nim-deploy-operator migrate (--namespace NS | --all-namespaces) [options]

        Moves each legacy NIM deployment from the namespace's shared Secrets (nvidia-nim-secrets,
        ngc-secret, nvidia-nim-image-pull, or the hand-made nim-api-key-<d>/nim-image-pull-<d>) to
        its own nvidia-nim-secrets-<d> and nvidia-nim-image-pull-<d>: reads the key (personal
        nvapi- keys only), creates the two Secrets (an existing one must already hold the key),
        repoints the ServingRuntime by name, restarts the pods once, records it. Every step can
        be run again; a run stopped anywhere is finished by the next. The PVC is not touched, the
        InferenceService only gets the restart token, the shared Secrets stay.

        Options:
          --namespace NS          this namespace
          --all-namespaces        every namespace
          --dry-run               print the plan step by step; write nothing
          --cleanup               then delete the Secrets the deployments were moved from, each only
                                  if nothing in the namespace still uses it (runtimes, InferenceServices,
                                  workload templates, Pods, ServiceAccounts, NimDeployments; else: who does)
          --adopt                 print a NimDeployment (YAML, on stdout) for each migrated deployment,
                                  image pinned, cache claim as existingClaim, key in a Secret
                                  ngc-api-key-<name> made for it; the report goes to stderr
          --output FORMAT         text (default) or json
          --kubeconfig PATH       kubeconfig file
          --context NAME          kubeconfig context

        Output: a line per deployment, NAMESPACE/NAME: STATE[ (REASON)]: message, its steps indented;
        a line per Secret cleaned or kept; a summary line. STATE is would-migrate, migrated,
        already-migrated, air-gapped, blocked or failed.
        Exit status: 0 done or nothing to do, 3 something needs a person (a blocked deployment,
        a Secret kept because it is in use), 1 failed (configuration, API server), 2 usage.
        """

    static let catalog = """
        Usage: nim-deploy-operator catalog <command> [options]

        The model catalog ConfigMap the controller reads (default nim-model-metadata in the
        operator's namespace), as a release artifact.

        Commands:
          generate    Build it from NVIDIA's API: check the key, page the catalog search, read
                      each model's repository (tags, latestTag, updatedDate), skip what answers
                      451 (EU-restricted from here), mark the models of --eu-restricted.
          detect-eu   From an EU location: the JSON list of models that answer 451.
          validate F  Read a catalog ConfigMap (either shape) as the controller does; report
                      every problem with its key.
          diff OLD NEW
                      Models added, removed and changed (tags, latestTag, EU restriction, image)
                      between two catalog ConfigMaps: the release review.

        The NGC API key comes from NGC_API_KEY or --api-key-file; personal keys (nvapi-) only.
        Run 'nim-deploy-operator catalog <command> --help' for a command's options.
        """

    static let catalogFetchOptions = """
          --api-key-file PATH     read the NGC API key from this file (default: $NGC_API_KEY)
          --output PATH           write here, atomically (default: standard output)
          --ngc-api-url URL       NGC API base URL (default: https://api.ngc.nvidia.com; http only
                                  to this machine)
          --concurrency N         repository calls in flight at once, 1 to 64 (default 8)
          --retries N             retries of a call answered 429, 5xx or not at all, with
                                  backoff and Retry-After honoured, 0 to 10 (default 4)
          --timeout SECONDS       per call (default 30)
        """

    static let catalogGenerate = """
        Usage: nim-deploy-operator catalog generate --api-key-file KEYFILE [options] > nim-model-metadata.yaml

        Writes the model catalog ConfigMap. Progress goes to standard error on a terminal; a
        summary (models found, written, skipped by reason) and a line per skipped model always.

        Options:
          --format FORMAT         per-model (default: one key per model, as nim_metadata.sh writes)
                                  or models-json (one key models.json with schemaVersion 1.0.0)
          --eu-restricted PATH    a detect-eu list: those models get euRestricted: true
          --name NAME             ConfigMap name (default nim-model-metadata)
          --namespace NS          ConfigMap namespace (default: none, kubectl's or kustomize's)
        \(catalogFetchOptions)

        SOURCE_DATE_EPOCH, when set, is the generatedAt of models-json (reproducible output).

        Exit status: 0 every listed model written or skipped as EU-restricted or untagged;
        3 written, but some models could not be read (403, 404, malformed, no answer);
        1 nothing written (key refused, NGC unreachable, search unreadable); 2 usage.

        Usage: nim-deploy-operator catalog generate --from-registry URL [options]

        The catalog of what a mirror holds, read through the OCI distribution API (tags/list,
        paged; Basic or the token flow of the distribution spec). URL is the mirror with the path
        the images sit under: https://registry.corp:5000/nvidia.

        Options:
          --source-catalog FILE   ask only for its models' repositories, and keep their names,
                                  descriptions, ids and EU flags; report what the mirror lacks
                                  (without: every nim/ repository of /v2/_catalog)
          --registry-auth FILE    credentials: an auth file (containers-auth.json, Docker's config.json)
          --registry-ca-bundle F  PEM certificates trusted for the mirror beside the system's
          --image-names source|mirror  images as NGC names them (default; the mirror sets or
                                  --image-registry-mirror redirect) or as the mirror does
          --registry-page-size N  entries per page asked for (default 100)
          --format, --name, --namespace, --output  as above (default format models-json)

        Exit status: 0 written; 3 written, but the source catalog lists models or tags the mirror
        lacks; 1 nothing written (mirror unreachable, credentials refused, no NIM image); 2 usage.
        """

    static let catalogDetectEU = """
        Usage: nim-deploy-operator catalog detect-eu --api-key-file KEYFILE [options] > nim_eu_restricted.json

        Run from an EU location: probes every model's repository and writes the JSON array of
        those that answer 451 ({"name","resourceId","org","team"}), for generate --eu-restricted.

        Options:
        \(catalogFetchOptions)

        Exit status: 0 every model probed; 3 written, but some models could not be probed;
        1 nothing written; 2 usage.
        """

    static let catalogValidate = """
        Usage: nim-deploy-operator catalog validate FILE

        Reads the first ConfigMap of FILE (YAML or JSON; - for standard input) with the parser
        the controller uses and prints every problem as SEVERITY: KEY: message. An error leaves
        that model out of the catalog; a warning keeps it, read as the message says.

        Exit status: 0 usable (warnings allowed), 1 errors or no usable model, 2 usage.
        """

    static let catalogDiff = """
        Usage: nim-deploy-operator catalog diff OLD NEW [--output text|json|markdown]

        Compares two catalog ConfigMaps (either shape, each read as the controller reads it):
        models added, removed, and changed (tags added and removed, latestTag, euRestricted,
        image, other fields).

        Exit status, as diff(1): 0 the same, 1 different, 2 trouble (a file unreadable) or usage.
        """

    static let template = """
        Usage: nim-deploy-operator template [--protocol http|grpc|all] [--namespace NS]

        Prints the OpenShift Templates nvidia-nim-http-template and nvidia-nim-grpc-template, made
        from the operator's own ServingRuntime code: processed with DEPLOYMENT_NAME,
        CONTAINER_IMAGE, MODEL_NAME, MODEL_TAG and DISPLAY_NAME (oc process), they give the
        runtime the operator makes for that NimDeployment. config/openshift and the chart ship them.

        Options:
          --protocol P     http, grpc or all (default all)
          --namespace NS   put them in this namespace (the dashboard's: opendatahub, redhat-ods-applications)
        """

    static let version = """
        Usage: nim-deploy-operator version

        Prints the version and the libcurl and libyaml it runs with.
        """

    static let airgap = """
        Usage: nim-deploy-operator airgap --catalog FILE --mirror HOST[:PORT][/PATH] [options]

        Writes, to one directory, what a cluster with no route to NGC needs: images.txt (what to
        mirror), mirror.sh (skopeo copy --all --preserve-digests, credentials from auth files
        only), imageset-config.yaml (oc-mirror v2), mirror-sets.yaml (ImageTagMirrorSet and
        ImageDigestMirrorSet, OpenShift), catalog.yaml (the catalog ConfigMap of what was
        mirrored), values-openshift.yaml and values-kubernetes.yaml (Helm), nimdeployments.yaml.

        Options:
          --catalog FILE            the catalog: a ConfigMap (per-model or models.json) or - for stdin
          --mirror HOST/PATH        the registry the images go to (registry.corp:5000/nvidia)
          --models a,b              models to mirror, by name or id (default: every model of the catalog)
          --tags latest|all|T1,T2   tags of each model (default latest)
          --output DIR              where to write (default ./airgap)
          --namespace NS            the operator's namespace, for catalog.yaml (default nim-deploy-operator-system)
          --operator-image IMAGE    mirror the operator's image too, and name it in the Helm values

        Exit status: 0 written; 3 written, but some models or tags asked for are not in the catalog;
        1 nothing written; 2 usage error.
        """
}
