package app

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// tracing instruments the gRPC and HTTP servers when a tracer provider is
// given, with W3C trace context and baggage propagation; without one it
// adds nothing at all.
type tracing struct {
	tp          trace.TracerProvider
	propagators propagation.TextMapPropagator
}

func newTracing(tp trace.TracerProvider) tracing {
	return tracing{tp: tp, propagators: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
}

func (t tracing) grpcOptions() []grpc.ServerOption {
	if t.tp == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(t.tp), otelgrpc.WithPropagators(t.propagators)))}
}

func (t tracing) httpHandler(h http.Handler) http.Handler {
	if t.tp == nil {
		return h
	}
	return otelhttp.NewHandler(h, "gatepost.http",
		otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.propagators),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}
