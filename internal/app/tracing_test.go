package app_test

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"

	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/config"
)

// TestTracing: with a tracer provider, gRPC and REST calls produce server
// spans (otelgrpc, otelhttp) that carry the caller's subject and profile.
// REST calls reach the service in-process, so their HTTP span is the one
// that gets the attributes.
func TestTracing(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	s := startWith(t, app.Options{TracerProvider: tp}, func(*config.Config) {})
	bothTransports(t, s, "Bearer "+aliceKey, okRequest, codes.OK)

	found := map[string]bool{}
	for _, sp := range rec.Ended() {
		if sp.SpanKind().String() != "server" {
			continue
		}
		attrs := map[attribute.Key]string{}
		for _, kv := range sp.Attributes() {
			attrs[kv.Key] = kv.Value.Emit()
		}
		if attrs["gatepost.subject"] == "alice" && attrs["gatepost.profile"] == "default" {
			found[sp.Name()] = true
		}
	}
	for _, name := range []string{"GET /v1/presign", "gatepost.v1.UploadService/CreatePresignedPost"} {
		if !found[name] {
			t.Errorf("no server span %q with subject and profile (found %v)", name, found)
		}
	}
}
