package verify_test

import (
	"bytes"
	"image"
	"image/png"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploadpolicy"
	"github.com/gatepost/gatepost/internal/verify"
)

// pngBytes is a real 2x2 PNG.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const (
	htmlBytes = "<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
	svgBytes  = `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`
	jsonBytes = `{"a": [1, 2, 3], "b": "text"}`
	textBytes = "just some words\nand another line\n"
)

func TestSniff(t *testing.T) {
	t.Parallel()
	pngData := pngBytes(t)
	for _, tc := range []struct {
		name     string
		rules    config.Sniff
		declared string
		head     []byte
		fits     bool
		sniffed  string
	}{
		{"a PNG declared image/png", config.Sniff{}, "image/png", pngData, true, "image/png"},
		{"HTML declared image/png", config.Sniff{}, "image/png", []byte(htmlBytes), false, "text/html"},
		{"HTML declared text/plain: active bytes must be declared as what they are", config.Sniff{}, "text/plain", []byte(htmlBytes), false, "text/html"},
		{"SVG declared image/png", config.Sniff{}, "image/png", []byte(svgBytes), false, "image/svg+xml"},
		{"JSON declared text/plain: a kind of text", config.Sniff{}, "text/plain", []byte(jsonBytes), true, "application/json"},
		{"a PNG declared application/octet-stream: a kind of binary", config.Sniff{}, "application/octet-stream", pngData, true, "image/png"},
		{"HTML declared application/octet-stream", config.Sniff{}, "application/octet-stream", []byte(htmlBytes), false, "text/html"},
		{"plain text declared text/csv: the detector cannot tell", config.Sniff{}, "text/csv", []byte(textBytes), true, "text/plain"},
		{"plain text declared image/png", config.Sniff{}, "image/png", []byte(textBytes), false, "text/plain"},
		{"unknown binary declared image/png", config.Sniff{}, "image/png", []byte{0, 1, 2, 3, 0xfe, 0xff, 0, 7}, false, "application/octet-stream"},
		{"unknown binary declared a type the detector does not know", config.Sniff{}, "application/x-gatepost-test", []byte{0, 1, 2, 3, 0xfe, 0xff, 0, 7}, true, "application/octet-stream"},
		{"a PNG declared a type the detector does not know", config.Sniff{}, "application/x-gatepost-test", pngData, false, "image/png"},
		{"no bytes (an empty object) declared image/png", config.Sniff{}, "image/png", nil, true, ""},
		{"XML declared text/plain: a kind of text, but active", config.Sniff{}, "text/plain", []byte(`<?xml version="1.0"?><a><b/></a>`), false, "text/xml"},
		{"an equivalence accepts another type", config.Sniff{Equivalent: map[string][]string{"image/png": {"text/html"}}}, "image/png", []byte(htmlBytes), true, "text/html"},
		{"an equivalence for another declared type does not", config.Sniff{Equivalent: map[string][]string{"image/jpeg": {"text/html"}}}, "image/png", []byte(htmlBytes), false, "text/html"},
		{"a skipped declared type is not sniffed", config.Sniff{Skip: []string{"image/png"}}, "image/png", []byte(htmlBytes), true, ""},
		{"sniffing disabled", config.Sniff{Disabled: true}, "image/png", []byte(htmlBytes), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sniffed, reason := verify.Sniff(tc.rules, tc.declared, tc.head)
			if (reason == "") != tc.fits || sniffed != tc.sniffed {
				t.Errorf("Sniff = %q, %q; want sniffed %q, fits %t", sniffed, reason, tc.sniffed, tc.fits)
			}
			if reason != "" && !strings.HasPrefix(reason, "content: the bytes are "+tc.sniffed+", not the declared "+tc.declared) {
				t.Errorf("reason %q does not name both types", reason)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	pngData := pngBytes(t)
	profile := &config.Profile{MinBytes: 1, MaxBytes: 1000, ContentTypes: []string{"image/png", "text/plain"}, MetadataKeys: []string{"origin"}}
	good := func() *uploadpolicy.Object {
		return &uploadpolicy.Object{Size: int64(len(pngData)), ContentType: "image/png", ChecksumSHA256: "c3VtCg==", Metadata: map[string]string{"Origin": "web"}}
	}
	declared := verify.Declared{Size: int64(len(pngData)), ContentType: "image/png", ChecksumSHA256: "c3VtCg==", Metadata: map[string]string{"origin": "web"}}
	for _, tc := range []struct {
		name    string
		change  func(*uploadpolicy.Object, *verify.Declared)
		head    []byte
		reasons []string
	}{
		{"all as declared", func(*uploadpolicy.Object, *verify.Declared) {}, pngData, nil},
		{"nothing declared but the type", func(_ *uploadpolicy.Object, d *verify.Declared) {
			*d = verify.Declared{Size: -1, ContentType: "image/png"}
		}, pngData, nil},
		{"a size other than declared", func(o *uploadpolicy.Object, _ *verify.Declared) { o.Size = 10 }, pngData,
			[]string{"size 10 is not the declared " + strconv.Itoa(len(pngData)) + " bytes"}},
		{"over the profile's maximum", func(o *uploadpolicy.Object, d *verify.Declared) { o.Size, d.Size = 5000, -1 }, pngData,
			[]string{"size 5000 is over the maximum of 1000 bytes"}},
		{"a wrong checksum", func(o *uploadpolicy.Object, _ *verify.Declared) { o.ChecksumSHA256 = "b3RoZXIK" }, pngData,
			[]string{`SHA-256 checksum "b3RoZXIK" is not the declared "c3VtCg=="`}},
		{"HTML bytes declared image/png", func(*uploadpolicy.Object, *verify.Declared) {}, []byte(htmlBytes),
			[]string{"content: the bytes are text/html, not the declared image/png"}},
		{"another Content-Type than declared", func(o *uploadpolicy.Object, _ *verify.Declared) { o.ContentType = "text/plain" }, []byte(textBytes),
			[]string{`Content-Type "text/plain" is not the declared "image/png"`}},
		{"metadata changed and added", func(o *uploadpolicy.Object, _ *verify.Declared) {
			o.Metadata = map[string]string{"Origin": "app", "Extra": "1"}
		}, pngData, []string{`metadata "Extra" is not allowed`, `metadata "origin" is "app", not the declared "web"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj, d := good(), declared
			d.Metadata = map[string]string{"origin": "web"}
			tc.change(obj, &d)
			v := verify.Check(profile, d, obj, tc.head)
			if !slices.Equal(v.Reasons, tc.reasons) {
				t.Errorf("reasons:\n got  %q\n want %q", v.Reasons, tc.reasons)
			}
			if v.OK() != (len(tc.reasons) == 0) {
				t.Errorf("OK() = %t with reasons %q", v.OK(), v.Reasons)
			}
		})
	}
}
