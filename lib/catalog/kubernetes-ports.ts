import type { Severity } from "./severity.ts";

/** What portwarden knows about one TCP port (or range) that matters on a Kubernetes node. */
export interface CatalogEntry {
  readonly from: number;
  readonly to: number;
  /** Short service name used in findings and alerts, e.g. `kubelet`. */
  readonly service: string;
  /** What an attacker gets if it is reachable (one sentence). */
  readonly exposes: string;
  /** Why the port is in the `kubernetes` profile. */
  readonly why: string;
  /** Severity when open to the internet and no probe proved more (or less). */
  readonly severity: Severity;
  /** How to fix it, one or two sentences. */
  readonly fix: string;
}

const entry = (
  from: number,
  to: number,
  service: string,
  severity: Severity,
  exposes: string,
  why: string,
  fix: string,
): CatalogEntry => ({ from, to, service, severity, exposes, why, fix });

/**
 * The `kubernetes` port profile. Sources: the Kubernetes "Ports and Protocols" reference (control
 * plane and worker nodes), kubeadm defaults, and the components commonly run on nodes. Sorted.
 */
export const KUBERNETES_PORTS: readonly CatalogEntry[] = [
  entry(
    22,
    22,
    "ssh",
    "medium",
    "SSH login on the node; brute force and stolen keys lead to root on the node.",
    "Nodes are often reachable over SSH for debugging.",
    "Use SSM Session Manager instead of SSH, or allow 22 only from a bastion CIDR.",
  ),
  entry(
    53,
    53,
    "dns",
    "low",
    "CoreDNS over TCP: cluster service names leak; open resolvers get abused.",
    "CoreDNS/kube-dns pods on hostNetwork.",
    "Keep DNS internal; do not publish CoreDNS on host ports.",
  ),
  entry(
    80,
    80,
    "http",
    "info",
    "Plain HTTP ingress.",
    "Ingress controllers on hostPort/NodePort listen here.",
    "Expected for public ingress: allow-list it, or redirect to HTTPS.",
  ),
  entry(
    179,
    179,
    "bgp",
    "medium",
    "Calico BGP peering: route injection into the pod network.",
    "Calico in BGP mode peers between nodes on 179.",
    "Allow 179 only between nodes (security group self-reference).",
  ),
  entry(
    443,
    443,
    "https",
    "info",
    "HTTPS ingress, or a Kubernetes API server on 443 (EKS endpoints).",
    "API servers and ingress controllers listen here.",
    "Expected for public ingress: allow-list it; restrict API endpoints.",
  ),
  entry(
    2375,
    2375,
    "docker",
    "critical",
    "Docker Engine API without TLS: anyone can start privileged containers = root on the node.",
    "Older nodes and dockershim setups exposed dockerd.",
    "Never bind dockerd to TCP without TLS; remove -H tcp://0.0.0.0:2375.",
  ),
  entry(
    2376,
    2376,
    "docker-tls",
    "high",
    "Docker Engine API over TLS; critical if client certificates are not enforced.",
    "dockerd with TLS.",
    "Require --tlsverify with client certificates, and never expose it to the internet.",
  ),
  entry(
    2379,
    2380,
    "etcd",
    "critical",
    "etcd holds all cluster state including Secrets; without client-cert auth it is the whole cluster.",
    "etcd client (2379) and peer (2380) ports on control-plane nodes.",
    "Run etcd with --client-cert-auth=true and --peer-client-cert-auth=true, reachable only from the control plane.",
  ),
  entry(
    2381,
    2381,
    "etcd-metrics",
    "medium",
    "etcd metrics and health over HTTP.",
    "kubeadm's --listen-metrics-urls default.",
    "Bind metrics to 127.0.0.1 (kubeadm default) or block it at the security group.",
  ),
  entry(
    4194,
    4194,
    "cadvisor",
    "high",
    "cAdvisor: every container, image and process on the node, unauthenticated.",
    "Old kubelets served cAdvisor on 4194.",
    "Upgrade the kubelet (--cadvisor-port was removed in 1.12) or block 4194.",
  ),
  entry(
    4240,
    4240,
    "cilium-health",
    "medium",
    "Cilium health API.",
    "Cilium agents listen on 4240 between nodes.",
    "Allow 4240 only between nodes.",
  ),
  entry(
    4244,
    4244,
    "hubble",
    "high",
    "Hubble: flow logs of every connection in the cluster.",
    "Cilium Hubble server on nodes.",
    "Allow 4244 only between nodes; never to the internet.",
  ),
  entry(
    5473,
    5473,
    "calico-typha",
    "medium",
    "Calico Typha: the network policy datastore fan-out.",
    "Calico with Typha.",
    "Allow 5473 only between nodes.",
  ),
  entry(
    6443,
    6443,
    "kube-apiserver",
    "high",
    "The Kubernetes API server: the front door of the cluster.",
    "Default secure port of kube-apiserver.",
    "Restrict the API to known management CIDRs (EKS: private endpoint or publicAccessCidrs); keep anonymous auth off.",
  ),
  entry(
    6783,
    6783,
    "weave",
    "high",
    "Weave Net control port; unauthenticated peers can join the pod network.",
    "Weave Net listens on 6783/TCP.",
    "Set a Weave password and allow 6783 only between nodes.",
  ),
  entry(
    8001,
    8001,
    "kubectl-proxy",
    "critical",
    "`kubectl proxy` forwards the API with someone's credentials.",
    "A `kubectl proxy --address 0.0.0.0` left running.",
    "Stop the proxy; never bind it beyond 127.0.0.1.",
  ),
  entry(
    8080,
    8080,
    "kube-apiserver-insecure",
    "high",
    "API server insecure port (no auth at all), or an HTTP service.",
    "kube-apiserver --insecure-port default before 1.20; also common HTTP apps.",
    "Upgrade: insecure serving is gone since 1.20; until then set --insecure-port=0 and block 8080.",
  ),
  entry(
    8443,
    8443,
    "https-alt",
    "high",
    "Alternate HTTPS: API servers (minikube, OpenShift) and dashboards.",
    "Kubernetes API and the Dashboard often use 8443.",
    "Do not publish dashboards or APIs; restrict to management CIDRs.",
  ),
  entry(
    9099,
    9099,
    "calico-felix",
    "medium",
    "Calico Felix health/metrics.",
    "calico-node's health port.",
    "Allow 9099 only between nodes.",
  ),
  entry(
    9100,
    9100,
    "node-exporter",
    "medium",
    "Prometheus node exporter: detailed host inventory for attackers.",
    "Node exporter DaemonSets on hostNetwork.",
    "Keep metrics internal; allow only from Prometheus.",
  ),
  entry(
    10248,
    10248,
    "kubelet-healthz",
    "low",
    "Kubelet health endpoint.",
    "Kubelet healthz (bound to localhost by default).",
    "Keep --healthz-bind-address=127.0.0.1.",
  ),
  entry(
    10249,
    10249,
    "kube-proxy-metrics",
    "medium",
    "kube-proxy metrics.",
    "kube-proxy --metrics-bind-address.",
    "Bind metrics to 127.0.0.1 or allow only from Prometheus.",
  ),
  entry(
    10250,
    10250,
    "kubelet",
    "high",
    "Kubelet API: list pods, read logs, exec into containers when anonymous auth is on.",
    "Every node's kubelet listens on 10250.",
    "Set --anonymous-auth=false and --authorization-mode=Webhook; allow 10250 only from the control plane's security group.",
  ),
  entry(
    10251,
    10251,
    "kube-scheduler-insecure",
    "high",
    "kube-scheduler's old plain-HTTP port: profiling and metrics with no authentication.",
    "kube-scheduler's --port default in older releases; still found on old control planes.",
    "Upgrade, or set --port=0 and block 10251; only the secure port 10259 should exist.",
  ),
  entry(
    10252,
    10252,
    "kube-controller-manager-insecure",
    "high",
    "kube-controller-manager's old plain-HTTP port: profiling and metrics with no authentication.",
    "kube-controller-manager's --port default in older releases; still found on old control planes.",
    "Upgrade, or set --port=0 and block 10252; only the secure port 10257 should exist.",
  ),
  entry(
    10255,
    10255,
    "kubelet-readonly",
    "critical",
    "Kubelet read-only port: pod specs, env vars and node info without any auth.",
    "Older kubelets and some distributions enable --read-only-port=10255.",
    "Set --read-only-port=0 (readOnlyPort: 0 in the KubeletConfiguration).",
  ),
  entry(
    10256,
    10256,
    "kube-proxy-health",
    "medium",
    "kube-proxy health check.",
    "kube-proxy --healthz-bind-address on every node.",
    "Allow 10256 only from load balancer health checks.",
  ),
  entry(
    10257,
    10257,
    "kube-controller-manager",
    "high",
    "kube-controller-manager secure port (profiling, metrics).",
    "Control-plane component.",
    "Bind to 127.0.0.1 (--bind-address) and block it at the security group.",
  ),
  entry(
    10259,
    10259,
    "kube-scheduler",
    "high",
    "kube-scheduler secure port (profiling, metrics).",
    "Control-plane component.",
    "Bind to 127.0.0.1 (--bind-address) and block it at the security group.",
  ),
  entry(
    30000,
    32767,
    "nodeport",
    "high",
    "A NodePort Service: whatever workload it fronts, published on every node.",
    "Kubernetes' default --service-node-port-range.",
    "Use a LoadBalancer or Ingress instead of NodePort, or close 30000-32767 to the internet.",
  ),
  entry(
    44134,
    44134,
    "tiller",
    "critical",
    "Helm v2 Tiller: deploys anything with cluster-admin rights.",
    "Helm v2 clusters.",
    "Remove Tiller (Helm v2 is end-of-life).",
  ),
];

/** Index into KUBERNETES_PORTS + 1 per port (0: not in the catalogue): one array read per lookup. */
const ENTRY_INDEX = (() => {
  const index = new Uint8Array(65536);
  KUBERNETES_PORTS.forEach((e, i) => {
    index.fill(i + 1, e.from, e.to + 1);
  });
  return index;
})();

/** The catalogue entry covering `port`, if any: what is *expected* there, never what answered. */
export function catalogEntryFor(port: number): CatalogEntry | undefined {
  const slot = Number.isInteger(port) && port >= 0 && port <= 65535 ? (ENTRY_INDEX[port] ?? 0) : 0;
  return slot === 0 ? undefined : KUBERNETES_PORTS[slot - 1];
}
