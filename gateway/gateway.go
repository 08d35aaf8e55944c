package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/rs/cors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
)

// readyTimeout bounds one readiness check.
const readyTimeout = 2 * time.Second

// setQueryParser sets grpc-gateway's process-wide query parser once.
var setQueryParser sync.Once

// Options configures the gateway's handler.
type Options struct {
	// OpenAPI is served at /openapi.json when not empty; its paths also
	// give the Allow header of a 405.
	OpenAPI []byte
	// OpenAPI31, when not empty, is served at /openapi-3.1.json: the same
	// API as an OpenAPI 3.1 document.
	OpenAPI31 []byte
	// Ready, when set, decides /readyz: nil means ready; the error's text
	// is shown, so it must not carry secrets.
	Ready func(context.Context) error
	// Degraded, when set, reports what works less well while ready (for
	// example limits that cannot be checked); its text follows "ready".
	Degraded func(context.Context) string
	// CORS lets browser pages from other origins call the REST API.
	CORS config.CORS
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	// LoopbackHostsOnly refuses requests whose Host is not a loopback name
	// or address (auth.mode none on loopback: see loopbackHostsOnly).
	LoopbackHostsOnly bool
	// Companion, when set, serves the Uppy Companion routes (/s3/...).
	Companion *Companion
	// Sessions, when set with Companion, serves POST and DELETE
	// /v1/session and lets the Companion routes take the session cookie.
	Sessions *Sessions
	// StoreEvents, when set, serves POST /store-events (the store's event
	// notifications).
	StoreEvents http.Handler
}

// New returns the HTTP handler of the gateway. conn reaches the service
// with every gRPC interceptor applied; gatepost passes server.InProcess,
// so the REST routes call the service in-process.
func New(ctx context.Context, conn grpc.ClientConnInterface, opts Options) (http.Handler, error) {
	// Query parse errors name the parameter and say what it takes.
	// grpc-gateway keeps the query parser in a package variable, whatever
	// mux sets it: set it once, before any mux serves, so that gateways
	// built side by side (tests) do not race on it.
	setQueryParser.Do(func() { runtime.SetQueryParameterParser(&queryParser{})(nil) })
	routes, err := parseRouteMethods(opts.OpenAPI)
	if err != nil {
		return nil, err
	}
	gw := runtime.NewServeMux(
		// Field names in JSON match the query parameters and the proto:
		// snake_case, every field present.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &jsonMarshaler{&runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		}}),
		runtime.WithRoutingErrorHandler(routingError(routes)),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
	)
	if err := gatepostv1.RegisterUploadServiceHandlerClient(ctx, gw, gatepostv1.NewUploadServiceClient(conn)); err != nil {
		return nil, fmt.Errorf("register UploadService routes: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/", noStore(gw))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Liveness: the process serves HTTP. It depends on nothing else, so
		// an S3 or credentials outage never gets replicas restarted.
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if opts.Ready != nil {
			if err := opts.Ready(ctx); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
				return
			}
		}
		msg := "ready\n"
		if opts.Degraded != nil {
			if d := opts.Degraded(ctx); d != "" {
				msg = "ready, but " + d + "\n"
			}
		}
		writeText(w, http.StatusOK, msg)
	})
	if len(opts.OpenAPI) > 0 {
		mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(opts.OpenAPI)
		})
	}
	if len(opts.OpenAPI31) > 0 {
		mux.HandleFunc("GET /openapi-3.1.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(opts.OpenAPI31)
		})
	}
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	if opts.StoreEvents != nil {
		mux.Handle("POST /store-events", opts.StoreEvents)
	}
	if opts.Companion != nil {
		opts.Companion.register(mux, noStore(gw), opts.Sessions)
		if opts.Sessions != nil {
			opts.Sessions.register(mux, noStore(gw))
		}
	}
	serveWeb(mux)
	h := withCORS(mux, opts.CORS)
	if opts.LoopbackHostsOnly {
		h = loopbackHostsOnly(h)
	}
	return h, nil
}

// withCORS answers preflights and adds CORS headers for the configured
// origins, with rs/cors: GET (presigning, GetUpload), POST (the
// multipart routes) and DELETE (the Uppy Companion route that aborts), with the Authorization, Content-Type and X-Request-Id
// headers, and the response headers a client may need.
func withCORS(h http.Handler, c config.CORS) http.Handler {
	if len(c.AllowedOrigins) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins:   c.AllowedOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodDelete},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "X-Request-Id"},
		ExposedHeaders:   []string{"Retry-After", "WWW-Authenticate", "X-Request-Id"},
		AllowCredentials: c.AllowCredentials,
		MaxAge:           int(c.MaxAge.Seconds()),
	}).Handler(h)
}

// incomingHeader forwards X-Request-Id to gRPC metadata besides
// grpc-gateway's defaults (which include Authorization).
func incomingHeader(key string) (string, bool) {
	if strings.EqualFold(key, "X-Request-Id") {
		return "x-request-id", true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// outgoingHeader turns the gRPC response headers gatepost sets into plain
// HTTP headers; others keep grpc-gateway's Grpc-Metadata- prefix.
func outgoingHeader(key string) (string, bool) {
	switch key {
	case "retry-after":
		return "Retry-After", true
	case "www-authenticate":
		return "WWW-Authenticate", true
	case "x-request-id":
		return "X-Request-Id", true
	}
	return runtime.MetadataHeaderPrefix + key, true
}

// errorHandler is grpc-gateway's default error handler, except that a 401
// carries the Bearer challenge the server set (RFC 6750) in
// WWW-Authenticate; the default would put the error message there.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && malformedQuery(st.Message()) {
		// Go's url.ParseQuery refused the query string itself.
		err = status.Error(codes.InvalidArgument, "query: "+st.Message()+"; percent-encode the parameter values")
	}
	if status.Code(err) == codes.Unauthenticated {
		challenge := `Bearer realm="gatepost"`
		if md, ok := runtime.ServerMetadataFromContext(ctx); ok {
			if v := md.HeaderMD.Get("www-authenticate"); len(v) > 0 {
				challenge = v[0]
			}
		}
		w = &challengeWriter{ResponseWriter: w, challenge: challenge}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// malformedQuery reports whether msg is one of url.ParseQuery's errors,
// which grpc-gateway passes on as they are.
func malformedQuery(msg string) bool {
	return strings.HasPrefix(msg, "invalid URL escape") || strings.HasPrefix(msg, "invalid semicolon separator")
}

// challengeWriter sets WWW-Authenticate just before the status is written.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (c *challengeWriter) WriteHeader(code int) {
	c.Header().Set("WWW-Authenticate", c.challenge)
	c.ResponseWriter.WriteHeader(code)
}

// routingError answers a known path with the wrong method with 405 and an
// Allow header (grpc-gateway's default is 501 Not Implemented, which tells
// a client the server is broken rather than that the client is wrong).
func routingError(routes routeMethods) runtime.RoutingErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
		if httpStatus != http.StatusMethodNotAllowed {
			runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
			return
		}
		allow := routes.allow(r.URL.Path)
		msg := fmt.Sprintf("method %s not allowed", r.Method)
		if allow != "" {
			w.Header().Set("Allow", allow)
			msg += "; use " + allow
		}
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{
			HTTPStatus: http.StatusMethodNotAllowed,
			Err:        status.Error(codes.Unimplemented, msg),
		})
	}
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// noStore marks every API answer Cache-Control: no-store: they carry
// credentials (signatures, policies, upload tokens) or a caller's own
// objects, which no browser or proxy cache should keep.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
