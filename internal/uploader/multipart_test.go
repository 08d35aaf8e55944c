package uploader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

func TestMain(m *testing.M) {
	// Nothing here talks to AWS, but never let anything look for instance
	// credentials off this machine.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// partHeaders are the headers the fake gatepost signs into every part URL,
// as the real one does: Content-Length and Host are written by the HTTP
// client; the others must be sent exactly as given, the empty tagging
// included.
func partHeaders(size int64) map[string]string {
	return map[string]string{
		"Content-Length":             strconv.FormatInt(size, 10),
		"Host":                       "signed-host.invalid",
		"X-Amz-Copy-Source-If-Match": `"gatepost-no-copy"`,
		"X-Amz-Tagging":              "",
		"X-Amz-Storage-Class":        "STANDARD",
	}
}

// sentHeaders are the headers of partHeaders that the client itself must
// set.
var sentHeaders = []string{"X-Amz-Copy-Source-If-Match", "X-Amz-Tagging", "X-Amz-Storage-Class"}

// events is the order in which the fake gatepost and store saw requests.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

// storedPart is what the fake store received for one part.
type storedPart struct {
	ContentLength int64
	Host          string
	Headers       map[string][]string // the values of sentHeaders
	Body          []byte
}

// fakeStore is an S3 stand-in for part PUTs: like S3, it refuses a part
// without the signed headers (403 SignatureDoesNotMatch).
type fakeStore struct {
	*httptest.Server
	events *events
	mu     sync.Mutex
	parts  map[int]storedPart
	// fail503 lists parts whose next PUT answers 503 (once each).
	fail503 map[int]bool
	// retryAfter, when set, is the Retry-After of those 503s.
	retryAfter string
}

func newFakeStore(t *testing.T, ev *events) *fakeStore {
	t.Helper()
	s := &fakeStore{events: ev, parts: map[int]storedPart{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("partNumber"))
		if r.Method != http.MethodPut || err != nil {
			http.Error(w, "not a part upload", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		fail := s.fail503[n]
		delete(s.fail503, n)
		s.mu.Unlock()
		if fail {
			_, _ = io.Copy(io.Discard, r.Body)
			ev.add("503 %d", n)
			if s.retryAfter != "" {
				w.Header().Set("Retry-After", s.retryAfter)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "<Error><Code>SlowDown</Code><Message>slow down</Message></Error>")
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		got := storedPart{ContentLength: r.ContentLength, Host: r.Host, Headers: map[string][]string{}, Body: body}
		for _, name := range sentHeaders {
			if v, ok := r.Header[http.CanonicalHeaderKey(name)]; ok {
				got.Headers[name] = v
			}
		}
		s.mu.Lock()
		s.parts[n] = got
		s.mu.Unlock()
		ev.add("put %d", n)
		for name, want := range partHeaders(r.ContentLength) {
			if name == "Content-Length" || name == "Host" {
				continue
			}
			if v, ok := r.Header[http.CanonicalHeaderKey(name)]; !ok || len(v) != 1 || v[0] != want {
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprintf(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>%s is signed</Message></Error>", name)
				return
			}
		}
		w.Header().Set("ETag", fmt.Sprintf(`"etag-%d"`, n))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fakeStore) stored() map[int]storedPart {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]storedPart, len(s.parts))
	for n, p := range s.parts {
		out[n] = p
	}
	return out
}

// fakeGatepost answers the multipart RPCs with URLs of the fake store.
type fakeGatepost struct {
	gatepostv1.UnimplementedUploadServiceServer
	store              *fakeStore
	events             *events
	partSize, total    int64
	mu                 sync.Mutex
	refuseParts        int    // PresignUploadParts calls still to refuse for rate
	retryAfter         string // the retry-after of those refusals ("" for none)
	completed, aborted int
	partsPerCall       int32 // what CreateMultipartUpload says (0: nothing)
	// listed is what ListUploadedParts says is stored; gone makes it
	// answer NotFound.
	listed []int32
	gone   bool
}

func (f *fakeGatepost) ListUploadedParts(_ context.Context, req *gatepostv1.ListUploadedPartsRequest) (*gatepostv1.ListUploadedPartsResponse, error) {
	f.events.add("list %s", req.GetUploadToken())
	if f.gone {
		return nil, status.Error(codes.NotFound, "upload_token: the upload no longer exists (completed or aborted)")
	}
	count := int32((f.total + f.partSize - 1) / f.partSize)
	resp := &gatepostv1.ListUploadedPartsResponse{PartSize: f.partSize, PartCount: count, Key: "key", TotalSize: f.total, Profile: "default"}
	for n := int32(1); n <= count; n++ {
		if slices.Contains(f.listed, n) {
			resp.Parts = append(resp.Parts, &gatepostv1.UploadedPart{PartNumber: n, Size: f.partSize, Etag: fmt.Sprintf(`"etag-%d"`, n)})
		} else {
			resp.MissingPartNumbers = append(resp.MissingPartNumbers, n)
		}
	}
	return resp, nil
}

func (f *fakeGatepost) CreateMultipartUpload(_ context.Context, req *gatepostv1.CreateMultipartUploadRequest) (*gatepostv1.CreateMultipartUploadResponse, error) {
	return &gatepostv1.CreateMultipartUploadResponse{
		UploadToken: "token-1", Key: req.GetKey(), Bucket: "uploads", PartSize: f.partSize,
		PartCount: int32((f.total + f.partSize - 1) / f.partSize), TotalSize: f.total,
		PartsPerCall: f.partsPerCall,
	}, nil
}

func (f *fakeGatepost) PresignUploadParts(ctx context.Context, req *gatepostv1.PresignUploadPartsRequest) (*gatepostv1.PresignUploadPartsResponse, error) {
	f.mu.Lock()
	refuse := f.refuseParts > 0
	if refuse {
		f.refuseParts--
	}
	f.mu.Unlock()
	numbers := req.GetPartNumbers()
	if refuse {
		f.events.add("refuse parts %d-%d", numbers[0], numbers[len(numbers)-1])
		if f.retryAfter != "" {
			_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", f.retryAfter))
		}
		return nil, status.Error(codes.ResourceExhausted, "rate limit exceeded")
	}
	f.events.add("presign parts %d-%d", numbers[0], numbers[len(numbers)-1])
	if len(numbers) > PartsPerCall {
		return nil, status.Errorf(codes.InvalidArgument, "part_numbers: %d in one call is more than your rate limit allows at once", len(numbers))
	}
	resp := &gatepostv1.PresignUploadPartsResponse{}
	for _, n := range numbers {
		size := min(f.partSize, f.total-int64(n-1)*f.partSize)
		resp.Parts = append(resp.Parts, &gatepostv1.PresignedPart{
			PartNumber: n, ContentLength: size, Headers: partHeaders(size),
			Url: fmt.Sprintf("%s/uploads/key?partNumber=%d&uploadId=u1&X-Amz-Signature=sig", f.store.URL, n),
		})
	}
	return resp, nil
}

func (f *fakeGatepost) CompleteMultipartUpload(context.Context, *gatepostv1.CompleteMultipartUploadRequest) (*gatepostv1.CompleteMultipartUploadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completed++
	return &gatepostv1.CompleteMultipartUploadResponse{Key: "key", Bucket: "uploads", Size: f.total}, nil
}

func (f *fakeGatepost) AbortMultipartUpload(context.Context, *gatepostv1.AbortMultipartUploadRequest) (*gatepostv1.AbortMultipartUploadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aborted++
	return &gatepostv1.AbortMultipartUploadResponse{}, nil
}

// serve runs f over gRPC and over REST (the generated gateway, with
// retry-after as gatepost's gateway sends it) on loopback, and returns a
// client for each transport.
func (f *fakeGatepost) serve(t *testing.T) map[string]*Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	gatepostv1.RegisterUploadServiceServer(gs, f)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)

	mux := runtime.NewServeMux(runtime.WithOutgoingHeaderMatcher(func(key string) (string, bool) {
		if key == "retry-after" {
			return "Retry-After", true
		}
		return runtime.MetadataHeaderPrefix + key, true
	}))
	if err := gatepostv1.RegisterUploadServiceHandlerServer(context.Background(), mux, f); err != nil {
		t.Fatal(err)
	}
	rest := httptest.NewServer(mux)
	t.Cleanup(rest.Close)

	clients := map[string]*Client{
		"gRPC": {GRPCAddr: ln.Addr().String()},
		"REST": {BaseURL: rest.URL, UseREST: true},
	}
	for _, c := range clients {
		t.Cleanup(func() { c.Close() })
	}
	return clients
}

// newFake returns a fake gatepost and store for an upload of total bytes
// in parts of partSize.
func newFake(t *testing.T, partSize, total int64) (*fakeGatepost, *fakeStore, *events) {
	t.Helper()
	ev := &events{}
	store := newFakeStore(t, ev)
	return &fakeGatepost{store: store, events: ev, partSize: partSize, total: total}, store, ev
}

func testData(n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	return data
}

// TestUploadMultipartSendsSignedHeaders: every part goes up with the
// headers gatepost signed into its URL, exactly as given (an empty value
// as an empty header), except Content-Length and Host, which come from the
// body and the URL.
func TestUploadMultipartSendsSignedHeaders(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"gRPC", "REST"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			data := testData(13)
			f, store, _ := newFake(t, 5, int64(len(data)))
			c := f.serve(t)[transport]
			done, err := c.UploadMultipart(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "key", TotalSize: proto.Int64(13)}, bytes.NewReader(data), 2, nil)
			if err != nil {
				t.Fatalf("UploadMultipart: %v", err)
			}
			if done.GetSize() != 13 {
				t.Errorf("completed size %d, want 13", done.GetSize())
			}
			storeHost := store.Listener.Addr().String()
			headers := map[string][]string{
				"X-Amz-Copy-Source-If-Match": {`"gatepost-no-copy"`},
				"X-Amz-Tagging":              {""},
				"X-Amz-Storage-Class":        {"STANDARD"},
			}
			want := map[int]storedPart{
				1: {ContentLength: 5, Host: storeHost, Headers: headers, Body: data[0:5]},
				2: {ContentLength: 5, Host: storeHost, Headers: headers, Body: data[5:10]},
				3: {ContentLength: 3, Host: storeHost, Headers: headers, Body: data[10:13]},
			}
			if diff := cmp.Diff(want, store.stored()); diff != "" {
				t.Errorf("parts the store received (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUploadMultipartBatches: part URLs are asked for at most PartsPerCall
// at a time, each part once, and a batch only when the parts of the one
// before have been handed out, not all up front.
func TestUploadMultipartBatches(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"gRPC", "REST"} {
		for _, parallel := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s, %d at once", transport, parallel), func(t *testing.T) {
				t.Parallel()
				data := testData(121)
				f, store, ev := newFake(t, 1, int64(len(data)))
				c := f.serve(t)[transport]
				if _, err := c.UploadMultipart(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "key", TotalSize: proto.Int64(121)}, bytes.NewReader(data), parallel, nil); err != nil {
					t.Fatalf("UploadMultipart: %v", err)
				}
				var presigns []string
				putsBefore := map[string]int{}
				puts := 0
				for _, e := range ev.all() {
					switch {
					case e[:3] == "put":
						puts++
					default:
						presigns = append(presigns, e)
						putsBefore[e] = puts
					}
				}
				wantPresigns := []string{"presign parts 1-50", "presign parts 51-100", "presign parts 101-121"}
				if diff := cmp.Diff(wantPresigns, presigns); diff != "" {
					t.Errorf("PresignUploadParts calls (-want +got):\n%s", diff)
				}
				if got := len(store.stored()); got != 121 || puts != 121 {
					t.Errorf("%d parts stored in %d PUTs, want 121 in 121", got, puts)
				}
				// The next batch is asked for once the workers have taken
				// every part of the one before, so at most parallel parts
				// of it are still going up.
				for i, e := range wantPresigns[1:] {
					if min := 50*(i+1) - parallel; putsBefore[e] < min {
						t.Errorf("%q came after %d PUTs, want at least %d", e, putsBefore[e], min)
					}
				}
			})
		}
	}
}

// TestUploadMultipartRateLimited: a PresignUploadParts call gatepost
// refuses for rate is retried after the wait it asks for (or a second when
// it does not say), a few times at most, and not at all when the wait is
// too long; a final refusal aborts the upload.
func TestUploadMultipartRateLimited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		refusals   int
		retryAfter string
		wantWaits  []time.Duration
		wantErr    bool
	}{
		{"retried after the wait", 2, "2", []time.Duration{2 * time.Second, 2 * time.Second}, false},
		{"no retry-after", 1, "", []time.Duration{time.Second}, false},
		{"refused once too often", maxRateRetries + 1, "1", []time.Duration{time.Second, time.Second, time.Second}, true},
		{"a wait too long to sit out", 1, "120", nil, true},
	}
	for _, transport := range []string{"gRPC", "REST"} {
		for _, tt := range tests {
			t.Run(transport+", "+tt.name, func(t *testing.T) {
				t.Parallel()
				data := testData(7)
				f, store, _ := newFake(t, 5, int64(len(data)))
				f.refuseParts, f.retryAfter = tt.refusals, tt.retryAfter
				c := f.serve(t)[transport]
				var waits []time.Duration
				c.wait = func(_ context.Context, d time.Duration) error {
					waits = append(waits, d) // one presign call at a time
					return nil
				}
				_, err := c.UploadMultipart(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "key", TotalSize: proto.Int64(7)}, bytes.NewReader(data), 2, nil)
				if diff := cmp.Diff(tt.wantWaits, waits); diff != "" {
					t.Errorf("waits (-want +got):\n%s", diff)
				}
				var g *GatepostError
				switch {
				case !tt.wantErr && err != nil:
					t.Fatalf("UploadMultipart: %v", err)
				case tt.wantErr && (!errors.As(err, &g) || g.Code != "ResourceExhausted"):
					t.Fatalf("UploadMultipart = %v, want a ResourceExhausted GatepostError", err)
				}
				wantParts, wantCompleted, wantAborted := 2, 1, 0
				if tt.wantErr {
					wantParts, wantCompleted, wantAborted = 0, 0, 1
				}
				if got := len(store.stored()); got != wantParts {
					t.Errorf("%d parts stored, want %d", got, wantParts)
				}
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.completed != wantCompleted || f.aborted != wantAborted {
					t.Errorf("completed %d, aborted %d times; want %d and %d", f.completed, f.aborted, wantCompleted, wantAborted)
				}
			})
		}
	}
}

// TestSleepHonoursContext: the wait before a retry ends when the context
// does.
func TestSleepHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := (&Client{}).sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestSetSignedHeaders: the headers the HTTP client writes itself are
// not copied.
func TestSetSignedHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	setSignedHeaders(h, map[string]string{"content-length": "5", "host": "x", "X-Amz-Tagging": "", "x-amz-meta-owner": "alice"})
	want := http.Header{"X-Amz-Tagging": {""}, "X-Amz-Meta-Owner": {"alice"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
}

// TestUploadMultipartSmallBurst: when gatepost says the caller's rate
// allows fewer part URLs per call than PartsPerCall, the client asks for
// no more (a bigger batch would be refused outright).
func TestUploadMultipartSmallBurst(t *testing.T) {
	t.Parallel()
	data := testData(25)
	f, _, ev := newFake(t, 1, int64(len(data)))
	f.partsPerCall = 10
	c := f.serve(t)["gRPC"]
	if _, err := c.UploadMultipart(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "key", TotalSize: proto.Int64(25)}, bytes.NewReader(data), 2, nil); err != nil {
		t.Fatalf("UploadMultipart: %v", err)
	}
	var presigns []string
	for _, e := range ev.all() {
		if e[:3] != "put" {
			presigns = append(presigns, e)
		}
	}
	want := []string{"presign parts 1-10", "presign parts 11-20", "presign parts 21-25"}
	if diff := cmp.Diff(want, presigns); diff != "" {
		t.Errorf("PresignUploadParts calls (-want +got):\n%s", diff)
	}
}

// memoryState is an uploader.State in memory.
type memoryState struct{ token string }

func (m *memoryState) Load() (string, error)   { return m.token, nil }
func (m *memoryState) Save(token string) error { m.token = token; return nil }
func (m *memoryState) Clear() error            { m.token = ""; return nil }

// TestUploadMultipartRetriesParts: a part the store answers 503 is sent
// again, after a wait, with a fresh URL, and the upload completes.
func TestUploadMultipartRetriesParts(t *testing.T) {
	for _, name := range []string{"gRPC", "REST"} {
		t.Run(name, func(t *testing.T) {
			f, store, ev := newFake(t, 10, 25)
			store.fail503 = map[int]bool{2: true}
			c := f.serve(t)[name]
			var waits []time.Duration
			c.wait = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			data := testData(25)
			if _, err := c.UploadMultipart(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "k"}, bytes.NewReader(data), 1, nil); err != nil {
				t.Fatal(err)
			}
			if got := store.stored(); len(got) != 3 || !bytes.Equal(got[2].Body, data[10:20]) {
				t.Errorf("stored %d parts", len(got))
			}
			if !slices.Equal(waits, []time.Duration{time.Second}) || !slices.Contains(ev.all(), "presign parts 2-2") {
				t.Errorf("waits %v, events %v; want one wait of 1s and part 2 presigned again", waits, ev.all())
			}
		})
	}
}

// TestUploadMultipartPartRetryAfter: a part the store answers 503 with a
// Retry-After longer than the back-off is sent again after the store's
// wait, capped at 30 s.
func TestUploadMultipartPartRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		retryAfter string
		want       time.Duration
	}{{"7", 7 * time.Second}, {"3600", 30 * time.Second}, {"0", time.Second}, {"soon", time.Second}} {
		f, store, _ := newFake(t, 10, 25)
		store.fail503 = map[int]bool{2: true}
		store.retryAfter = tt.retryAfter
		c := f.serve(t)["gRPC"]
		var waits []time.Duration
		c.wait = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
		if _, err := c.UploadMultipart(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "k"}, bytes.NewReader(testData(25)), 1, nil); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(waits, []time.Duration{tt.want}) {
			t.Errorf("Retry-After %q: waits %v, want %v", tt.retryAfter, waits, tt.want)
		}
	}
}

// TestUploadMultipartResumes: with a saved token the upload sends only
// the parts gatepost lists as missing, completes, and forgets the token;
// a token of an upload that is gone starts a new one; a failed upload is
// kept (not aborted) for the next run.
func TestUploadMultipartResumes(t *testing.T) {
	f, store, ev := newFake(t, 10, 25)
	f.listed = []int32{1, 3}
	c := f.serve(t)["gRPC"]
	state := &memoryState{token: "saved-token"}
	data := testData(25)
	// A token of another upload (another size) is refused, and kept.
	if _, err := c.UploadMultipartResumable(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "k", TotalSize: proto.Int64(99)}, bytes.NewReader(testData(99)), 2, nil, state); !errors.Is(err, ErrOtherUpload) || state.token != "saved-token" {
		t.Fatalf("resume with another file: %v (token %q); want ErrOtherUpload, the token kept", err, state.token)
	}
	if _, err := c.UploadMultipartResumable(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "k", TotalSize: proto.Int64(25)}, bytes.NewReader(data), 2, nil, state); err != nil {
		t.Fatal(err)
	}
	if got := store.stored(); len(got) != 1 || got[2].Body == nil || state.token != "" || f.completed != 1 {
		t.Errorf("stored parts %v, token %q, completed %d; want part 2 alone, the token forgotten, one completion", len(got), state.token, f.completed)
	}
	if slices.Contains(ev.all(), "presign parts 1-1") {
		t.Errorf("events %v: a listed part was presigned", ev.all())
	}

	f2, _, _ := newFake(t, 10, 25)
	f2.gone = true
	c2 := f2.serve(t)["REST"]
	state2 := &memoryState{token: "old-token"}
	if _, err := c2.UploadMultipartResumable(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "k", TotalSize: proto.Int64(25)}, bytes.NewReader(data), 2, nil, state2); err != nil {
		t.Fatal(err)
	}
	if f2.completed != 1 {
		t.Errorf("a gone upload was not started again")
	}

	f3, store3, _ := newFake(t, 10, 25)
	store3.fail503 = map[int]bool{1: true}
	c3 := f3.serve(t)["gRPC"]
	c3.wait = func(context.Context, time.Duration) error { return context.Canceled }
	state3 := &memoryState{}
	_, err := c3.UploadMultipartResumable(t.Context(), &gatepostv1.CreateMultipartUploadRequest{Key: "k", TotalSize: proto.Int64(25)}, bytes.NewReader(data), 1, nil, state3)
	if err == nil || state3.token != "token-1" || f3.aborted != 0 || !strings.Contains(err.Error(), "resume") {
		t.Errorf("a failed resumable upload: %v, token %q, aborted %d; want kept for resuming", err, state3.token, f3.aborted)
	}
}
