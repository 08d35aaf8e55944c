// Package deploy_test checks the deployment files without a cluster or a
// Docker engine: every Kubernetes manifest must decode strictly into the
// API's own Go types (k8s.io/api, the source of the published OpenAPI
// schemas; schema validators such as kubeconform fetch those schemas from
// the network, which these machines cannot reach), the objects must fit
// together, the ConfigMap's configuration must pass gatepost's own
// validation, and the Dockerfile must parse and keep its promises.
package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/gatepost/gatepost/internal/config"
)

// load decodes a manifest strictly: an unknown or misspelt field fails.
func load(t *testing.T, name string, into any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("kubernetes", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestManifests(t *testing.T) {
	var (
		sa     corev1.ServiceAccount
		cm     corev1.ConfigMap
		deploy appsv1.Deployment
		svc    corev1.Service
		hpa    autoscalingv2.HorizontalPodAutoscaler
		pdb    policyv1.PodDisruptionBudget
	)
	load(t, "serviceaccount.yaml", &sa)
	load(t, "configmap.yaml", &cm)
	load(t, "deployment.yaml", &deploy)
	load(t, "service.yaml", &svc)
	load(t, "hpa.yaml", &hpa)
	load(t, "pdb.yaml", &pdb)

	for _, tm := range []struct{ kind, apiVersion, wantKind, wantAPI string }{
		{sa.Kind, sa.APIVersion, "ServiceAccount", "v1"},
		{cm.Kind, cm.APIVersion, "ConfigMap", "v1"},
		{deploy.Kind, deploy.APIVersion, "Deployment", "apps/v1"},
		{svc.Kind, svc.APIVersion, "Service", "v1"},
		{hpa.Kind, hpa.APIVersion, "HorizontalPodAutoscaler", "autoscaling/v2"},
		{pdb.Kind, pdb.APIVersion, "PodDisruptionBudget", "policy/v1"},
	} {
		if tm.kind != tm.wantKind || tm.apiVersion != tm.wantAPI {
			t.Errorf("%s %s, want %s %s", tm.apiVersion, tm.kind, tm.wantAPI, tm.wantKind)
		}
	}

	pod := deploy.Spec.Template
	labels := pod.Labels
	matches := func(sel map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !matches(deploy.Spec.Selector.MatchLabels) || !matches(svc.Spec.Selector) || !matches(pdb.Spec.Selector.MatchLabels) {
		t.Error("a selector does not match the pod's labels")
	}
	if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != deploy.Name {
		t.Errorf("the HPA targets %s/%s", hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name)
	}
	if pod.Spec.ServiceAccountName != sa.Name {
		t.Errorf("the pod runs as %q, not the ServiceAccount %q", pod.Spec.ServiceAccountName, sa.Name)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("liveness probe is not GET /healthz")
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("readiness probe is not GET /readyz")
	}
	if c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Error("resource requests and limits must be set")
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the pod must run as non-root")
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("the container must have a read-only root and no privilege escalation")
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, p := range svc.Spec.Ports {
		if _, ok := ports[p.TargetPort.StrVal]; !ok {
			t.Errorf("service port %s targets %q, which the container does not name", p.Name, p.TargetPort.StrVal)
		}
	}

	// The configuration in the ConfigMap is one gatepost accepts.
	cfg, err := config.Parse(strings.NewReader(cm.Data["config.yaml"]))
	if err != nil {
		t.Fatalf("configmap config.yaml: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("configmap config.yaml: %v", err)
	}
	if !slices.Contains(c.Args, "/etc/gatepost/config.yaml") {
		t.Errorf("the container does not load the mounted configuration: args %v", c.Args)
	}
	// gatepost reloads API keys and mTLS profiles when the file changes;
	// the kubelet updates a ConfigMap mounted as a directory, never one
	// mounted with subPath.
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/etc/gatepost" && m.SubPath != "" {
			t.Errorf("the configuration is mounted with subPath %q, so ConfigMap updates never reach it", m.SubPath)
		}
	}
	if cfg.Auth.Mode == config.AuthNone {
		t.Error("the ConfigMap turns authentication off")
	}
	if ports["http"] != 8080 || ports["grpc"] != 9090 || ports["metrics"] != 9091 ||
		cfg.HTTPAddr != ":8080" || cfg.GRPCAddr != ":9090" || cfg.Metrics.Addr != ":9091" {
		t.Errorf("container ports %v do not match the configuration's addresses", ports)
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("Dockerfile does not parse: %v", err)
	}
	var froms, users []string
	var cmds []string
	for _, n := range res.AST.Children {
		cmds = append(cmds, strings.ToUpper(n.Value))
		switch strings.ToUpper(n.Value) {
		case "FROM":
			froms = append(froms, n.Next.Value)
		case "USER":
			users = append(users, n.Next.Value)
		}
	}
	if len(froms) != 2 || !strings.Contains(froms[1], "distroless/static") {
		t.Errorf("want a build stage and a distroless/static runtime stage, got FROM %v", froms)
	}
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1], "0") || users[len(users)-1] == "root" {
		t.Errorf("the image must end as a non-root user, got USER %v", users)
	}
	if !bytes.Contains(raw, []byte("CGO_ENABLED=0")) {
		t.Error("the binary must be static (CGO_ENABLED=0)")
	}
	if !slices.Contains(cmds, "ENTRYPOINT") {
		t.Error("no ENTRYPOINT")
	}
}
