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

// TestTracing: with a tracer provider, gRPC and REST calls produce spans;
// the UploadService span carries the subject and profile, and a REST call's
// gRPC span is in the same trace as its HTTP span (the gateway propagates
// the context).
func TestTracing(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	s := startWith(t, app.Options{TracerProvider: tp}, func(*config.Config) {})
	bothTransports(t, s, "Bearer "+aliceKey, okRequest, codes.OK)

	var httpSpans, rpcSpans []sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		switch sp.Name() {
		case "GET /v1/presign":
			httpSpans = append(httpSpans, sp)
		case "gatepost.v1.UploadService/CreatePresignedPost":
			if sp.SpanKind().String() == "server" {
				rpcSpans = append(rpcSpans, sp)
			}
		}
	}
	if len(httpSpans) != 1 || len(rpcSpans) != 2 {
		t.Fatalf("%d HTTP and %d gRPC server spans, want 1 and 2", len(httpSpans), len(rpcSpans))
	}
	sameTrace := 0
	for _, sp := range rpcSpans {
		attrs := map[attribute.Key]string{}
		for _, kv := range sp.Attributes() {
			attrs[kv.Key] = kv.Value.Emit()
		}
		if attrs["gatepost.subject"] != "alice" || attrs["gatepost.profile"] != "default" {
			t.Errorf("span attributes %v lack subject and profile", attrs)
		}
		if sp.SpanContext().TraceID() == httpSpans[0].SpanContext().TraceID() {
			sameTrace++
		}
	}
	if sameTrace != 1 {
		t.Errorf("the REST call's gRPC span is not in the HTTP span's trace")
	}
}
