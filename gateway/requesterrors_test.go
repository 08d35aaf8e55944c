package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatepost/gatepost/gateway"
)

// TestRequestParseErrors: a query parameter or JSON body that does not fit
// the call is a 400 whose message starts with the caller's field name and
// says what it takes, never grpc-gateway's or Go's wording.
func TestRequestParseErrors(t *testing.T) {
	t.Parallel()
	ts := newGateway(t, codeService{}, gateway.Options{})
	tests := []struct {
		name   string
		method string
		target string // path and query
		body   string // for POST
		want   string // the whole message
	}{
		{"a number with a unit", "GET", "/v1/presign?key=OK&content_length=12kb", "",
			`content_length: must be a whole number, in digits (no units), not "12kb"`},
		{"a number too large", "GET", "/v1/presign?key=OK&content_length=99999999999999999999", "",
			`content_length: must be a whole number, in digits (no units), not "99999999999999999999"`},
		{"a number given twice", "GET", "/v1/presign?key=OK&content_length=1&content_length=2", "",
			`content_length: given 2 times; give it once`},
		{"a JSON name", "GET", "/v1/presign?key=OK&contentLength=x", "",
			`contentLength: must be a whole number, in digits (no units), not "x"`},
		{"a bad escape", "GET", "/v1/presign?key=%zz", "",
			`query: invalid URL escape "%zz"; percent-encode the parameter values`},
		{"a size in words", "POST", "/v1/multipart", `{"key":"a","total_size":"12kb"}`,
			`total_size: must be a whole number, in digits (no units), not "12kb"`},
		{"a fraction", "POST", "/v1/multipart", `{"total_size":12.5}`,
			`total_size: must be a whole number, in digits (no units), not 12.5`},
		{"a string as a number", "POST", "/v1/multipart", `{"key":5}`,
			`key: must be a string, not 5`},
		{"a part number in words", "POST", "/v1/multipart/parts", `{"part_numbers":[1,"two"]}`,
			`part_numbers: must be a whole number (at most 2147483647), not "two"`},
		{"a nested field", "POST", "/v1/multipart/complete", `{"parts":[{"part_number":"x"}]}`,
			`parts.part_number: must be a whole number (at most 2147483647), not "x"`},
		{"a metadata value", "POST", "/v1/multipart", `{"metadata":{"a":1}}`,
			`metadata values: must be a string, not 1`},
		{"a field twice", "POST", "/v1/multipart", `{"key":"a","key":"b"}`,
			`key: given more than once; give it once`},
		{"cut short", "POST", "/v1/multipart", `{"key":`,
			`request body: the JSON ends too early; send one JSON object`},
		{"not an object", "POST", "/v1/multipart", `[]`,
			`request body: not a JSON object of this call's fields (unexpected token [)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, ts.URL+tt.target, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var st struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(body, &st)
			if resp.StatusCode != http.StatusBadRequest || st.Message != tt.want {
				t.Errorf("%s %s: %d %q\nwant 400 %q", tt.method, tt.target, resp.StatusCode, st.Message, tt.want)
			}
		})
	}
}
