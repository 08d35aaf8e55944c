package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// readyTimeout bounds one readiness check.
const readyTimeout = 2 * time.Second

// Options configures the gateway's handler.
type Options struct {
	// OpenAPI is served at /openapi.json when not empty.
	OpenAPI []byte
	// Ready, when set, is consulted by /readyz besides the gRPC health check
	// (for example: can credentials be obtained).
	Ready func(context.Context) error
}

// New returns the HTTP handler of the gateway. conn is a client connection
// to gatepost's own gRPC server.
func New(ctx context.Context, conn *grpc.ClientConn, opts Options) (http.Handler, error) {
	gw := runtime.NewServeMux(
		// Field names in JSON match the query parameters and the proto:
		// snake_case, every field present.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		}),
		runtime.WithRoutingErrorHandler(routingError),
	)
	if err := gatepostv1.RegisterUploadServiceHandler(ctx, gw, conn); err != nil {
		return nil, fmt.Errorf("register UploadService routes: %w", err)
	}
	health := healthpb.NewHealthClient(conn)

	mux := http.NewServeMux()
	mux.Handle("/v1/", gw)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Liveness: the process serves HTTP. It depends on nothing else, so
		// an S3 or credentials outage never gets replicas restarted.
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: gatepostv1.UploadService_ServiceDesc.ServiceName})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			writeText(w, http.StatusServiceUnavailable, "not ready: gRPC server is not serving\n")
			return
		}
		if opts.Ready != nil {
			if err := opts.Ready(ctx); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready: signing credentials are unavailable\n")
				return
			}
		}
		writeText(w, http.StatusOK, "ready\n")
	})
	if len(opts.OpenAPI) > 0 {
		mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(opts.OpenAPI)
		})
	}
	return mux, nil
}

// routingError answers a known path with the wrong method with 405 and an
// Allow header (grpc-gateway's default is 501 Not Implemented, which tells
// a client the server is broken rather than that the client is wrong).
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodGet)
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{
			HTTPStatus: http.StatusMethodNotAllowed,
			Err:        status.Errorf(codes.Unimplemented, "method %s not allowed; use GET", r.Method),
		})
		return
	}
	runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
