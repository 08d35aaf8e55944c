package uploadpolicy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatepost/gatepost/internal/uploadpolicy"
)

func TestUnsizedPartLimit(t *testing.T) {
	tests := []struct {
		max  int64
		want int32
	}{
		{1, 1},
		{5 << 20, 1},
		{5<<20 + 1, 2},
		{64 << 20, 13},
		{5 << 40, uploadpolicy.MaxParts},
	}
	for _, tt := range tests {
		if got := uploadpolicy.UnsizedPartLimit(tt.max); got != tt.want {
			t.Errorf("UnsizedPartLimit(%d) = %d, want %d", tt.max, got, tt.want)
		}
	}
}

func TestCheckUnsizedParts(t *testing.T) {
	const mib = 1 << 20
	parts := func(sizes ...int64) []uploadpolicy.Part {
		var ps []uploadpolicy.Part
		for i, s := range sizes {
			ps = append(ps, uploadpolicy.Part{Number: int32(i + 1), Size: s, ETag: "e"})
		}
		return ps
	}
	tests := []struct {
		name     string
		parts    []uploadpolicy.Part
		min, max int64
		want     string // "" when valid
		over     bool
	}{
		{"one small part", parts(10), 1, 64 * mib, "", false},
		{"parts of 5 MiB and a short last", parts(5*mib, 5*mib, 3), 1, 64 * mib, "", false},
		{"Uppy-sized parts up to the maximum", parts(5*mib, 5*mib), 1, 10 * mib, "", false},
		{"none", nil, 0, 64 * mib, "no part has been uploaded", false},
		{"a gap", []uploadpolicy.Part{{Number: 1, Size: 5 * mib}, {Number: 3, Size: 1}}, 1, 64 * mib, "part 2 is missing", false},
		{"no part 1", []uploadpolicy.Part{{Number: 2, Size: 1}}, 1, 64 * mib, "part 1 is missing", false},
		{"listed twice", []uploadpolicy.Part{{Number: 1, Size: 5 * mib}, {Number: 1, Size: 5 * mib}}, 1, 64 * mib, "part 1 is listed twice", false},
		{"listed twice near the maximum", []uploadpolicy.Part{{Number: 1, Size: 6 * mib}, {Number: 1, Size: 6 * mib}}, 1, 10 * mib, "part 1 is listed twice", false},
		{"a short part before the last", parts(4*mib, 5*mib), 1, 64 * mib, "part 1 is 4194304 bytes; every part but the last must be at least", false},
		{"under the minimum", parts(10), 100, 64 * mib, "the parts hold 10 bytes, under the profile's minimum of 100", false},
		{"over the maximum", parts(5*mib, 5*mib, 1), 1, 10 * mib, "the parts hold 10485761 bytes, over the profile's maximum of 10485760", true},
		{"over the part limit", []uploadpolicy.Part{{Number: 1, Size: 1}, {Number: 2, Size: 1}, {Number: 3, Size: 1}}, 1, 10 * mib, "part 3 is over the 2 parts", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := uploadpolicy.CheckUnsizedParts(tt.parts, tt.min, tt.max, uploadpolicy.UnsizedPartLimit(tt.max))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckUnsizedParts: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckUnsizedParts = %v, want %q", err, tt.want)
			}
			if errors.Is(err, uploadpolicy.ErrOverLimit) != tt.over {
				t.Errorf("ErrOverLimit = %v, want %v", !tt.over, tt.over)
			}
		})
	}
}

func TestResolveDuplicates(t *testing.T) {
	plan := func(n int32) int64 { return map[int32]int64{1: 8, 2: 8, 3: 4}[n] }
	unplanned := func(int32) int64 { return -1 }
	p := func(n int32, size int64, etag string) uploadpolicy.Part {
		return uploadpolicy.Part{Number: n, Size: size, ETag: etag}
	}
	tests := []struct {
		name   string
		parts  []uploadpolicy.Part
		length func(int32) int64
		given  map[int32]string
		want   []uploadpolicy.Part
	}{
		{"none", []uploadpolicy.Part{p(1, 8, "a"), p(2, 8, "b")}, plan, nil, []uploadpolicy.Part{p(1, 8, "a"), p(2, 8, "b")}},
		{"an aborted entry beside the real one", []uploadpolicy.Part{p(1, 8, "a"), p(2, 3, "x"), p(2, 8, "b")}, plan, nil, []uploadpolicy.Part{p(1, 8, "a"), p(2, 8, "b")}},
		{"the same bytes twice (a retry)", []uploadpolicy.Part{p(2, 8, `"b"`), p(2, 8, "b")}, plan, nil, []uploadpolicy.Part{p(2, 8, `"b"`)}},
		{"two of the planned size", []uploadpolicy.Part{p(2, 8, "x"), p(2, 8, "b")}, plan, nil, []uploadpolicy.Part{p(2, 8, "x"), p(2, 8, "b")}},
		{"two of the planned size, the client's ETag", []uploadpolicy.Part{p(2, 8, "x"), p(2, 8, "b")}, plan, map[int32]string{2: `"b"`}, []uploadpolicy.Part{p(2, 8, "b")}},
		{"none of the planned size", []uploadpolicy.Part{p(2, 3, "x"), p(2, 5, "b")}, plan, nil, []uploadpolicy.Part{p(2, 3, "x"), p(2, 5, "b")}},
		{"no planned size", []uploadpolicy.Part{p(2, 3, "x"), p(2, 8, "b")}, unplanned, nil, []uploadpolicy.Part{p(2, 3, "x"), p(2, 8, "b")}},
		{"no planned size, the client's ETag", []uploadpolicy.Part{p(2, 3, "x"), p(2, 8, "b")}, unplanned, map[int32]string{2: "b"}, []uploadpolicy.Part{p(2, 8, "b")}},
		{"the client's ETag matches none", []uploadpolicy.Part{p(2, 3, "x"), p(2, 8, "b")}, plan, map[int32]string{2: "zz"}, []uploadpolicy.Part{p(2, 3, "x"), p(2, 8, "b")}},
	}
	for _, tt := range tests {
		got := uploadpolicy.ResolveDuplicates(tt.parts, tt.length, tt.given)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}
