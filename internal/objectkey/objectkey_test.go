package objectkey_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/gatepost/gatepost/internal/objectkey"
)

// testPrefix is the prefix of the embedded default profile.
const testPrefix = "user-uploads/"

// uuidRE matches the lowercase text form of a random (version 4) UUID.
const uuidRE = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     string
		wantErr bool
		// wantMsg, if set, must appear in the error message: the message
		// is shown to callers, so it has to say what is wrong.
		wantMsg string
	}{
		{name: "plain", key: "photo.png"},
		{name: "nested", key: "a/b/c.png"},
		{name: "unicode letters", key: "fotos/café.jpg"},
		{name: "non-Latin script", key: "写真/東京.jpg"},
		{name: "spaces", key: "my photos/summer 2024.jpg"},
		{name: "single character", key: "a"},
		{name: "dots inside a segment", key: "a..b"},
		{name: "segment starting with dots", key: "..a"},
		{name: "segment ending with dots", key: "a/b.."},
		{name: "three dots", key: "a/.../b"},
		{name: "hidden file", key: "a/.hidden"},
		{name: "dollar without brace", key: "price$5/{x}.txt"},
		{name: "exactly the S3 limit", key: strings.Repeat("a", objectkey.MaxKeyBytes)},

		{name: "empty", key: "", wantErr: true, wantMsg: "empty"},
		{name: "invalid UTF-8", key: "a\xffb", wantErr: true, wantMsg: "UTF-8"},
		{name: "truncated UTF-8", key: "caf\xc3", wantErr: true, wantMsg: "UTF-8"},
		{name: "NUL", key: "a\x00b", wantErr: true, wantMsg: "control"},
		{name: "newline", key: "a\nb", wantErr: true, wantMsg: "control"},
		{name: "tab", key: "a\tb", wantErr: true, wantMsg: "control"},
		{name: "DEL", key: "a\x7fb", wantErr: true, wantMsg: "control"},
		{name: "C1 next line U+0085", key: "a\u0085b", wantErr: true, wantMsg: "U+0085"},
		{name: "right-to-left override U+202E", key: "a\u202egnp.exe", wantErr: true, wantMsg: "invisible"},
		{name: "zero-width space U+200B", key: "a\u200bb", wantErr: true, wantMsg: "invisible"},
		{name: "byte order mark U+FEFF", key: "\ufeffa", wantErr: true},
		{name: "line separator U+2028", key: "a\u2028b", wantErr: true, wantMsg: "U+2028"},
		{name: "paragraph separator U+2029", key: "a\u2029b", wantErr: true},
		{name: "private use U+E000", key: "a\ue000b", wantErr: true, wantMsg: "private-use"},
		{name: "supplementary private use U+F0000", key: "a\U000F0000b", wantErr: true},
		{name: "non-character U+FFFF", key: "a\uffffb", wantErr: true, wantMsg: "non-character"},
		{name: "non-character U+FDD0", key: "a\ufdd0b", wantErr: true},
		{name: "non-character U+10FFFE", key: "a\U0010FFFEb", wantErr: true},
		{name: "replacement character U+FFFD", key: "a\ufffdb", wantErr: true},
		{name: "leading slash", key: "/a", wantErr: true, wantMsg: "start with /"},
		{name: "only a slash", key: "/", wantErr: true},
		{name: "trailing slash", key: "a/", wantErr: true, wantMsg: "end with /"},
		{name: "double slash", key: "a//b", wantErr: true, wantMsg: "//"},
		{name: "backslash", key: `a\b`, wantErr: true, wantMsg: "backslash"},
		{name: "backslash dot-dot", key: `..\a`, wantErr: true},
		{name: "policy variable", key: "${filename}", wantErr: true, wantMsg: "${"},
		{name: "policy variable inside", key: "a/${filename}.png", wantErr: true},
		{name: "dot-dot alone", key: "..", wantErr: true, wantMsg: `".."`},
		{name: "dot-dot first", key: "../a", wantErr: true, wantMsg: `".."`},
		{name: "dot-dot middle", key: "a/../b", wantErr: true, wantMsg: `".."`},
		{name: "dot-dot last", key: "a/..", wantErr: true, wantMsg: `".."`},
		{name: "dot alone", key: ".", wantErr: true, wantMsg: `"."`},
		{name: "dot first", key: "./a", wantErr: true},
		{name: "dot middle", key: "a/./b", wantErr: true},
		{name: "dot last", key: "a/.", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := objectkey.Check(tc.key)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("Check(%q) = %v, want error: %t", tc.key, err, tc.wantErr)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Check(%q) = %q, want a message containing %q", tc.key, err, tc.wantMsg)
			}
		})
	}
}

func TestCheckPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prefix  string
		wantErr bool
		wantMsg string
	}{
		{name: "empty", prefix: ""},
		{name: "folder", prefix: "user-uploads/"},
		{name: "nested folder", prefix: "tenants/acme/"},
		{name: "without trailing slash", prefix: "upload-"},
		{name: "longest that leaves room for a key", prefix: strings.Repeat("a", objectkey.MaxKeyBytes-2) + "/"},

		{name: "only a slash", prefix: "/", wantErr: true, wantMsg: "just /"},
		{name: "double trailing slash", prefix: "a//", wantErr: true, wantMsg: "//"},
		{name: "leading slash", prefix: "/a/", wantErr: true, wantMsg: "start with /"},
		{name: "dot-dot", prefix: "../", wantErr: true, wantMsg: `".."`},
		{name: "dot-dot inside", prefix: "a/../b/", wantErr: true},
		{name: "dot", prefix: "./", wantErr: true},
		{name: "backslash", prefix: `a\b/`, wantErr: true},
		{name: "policy variable", prefix: "${filename}/", wantErr: true},
		{name: "dollar inside", prefix: "price$5/"},
		{name: "trailing dollar", prefix: "files$", wantErr: true, wantMsg: "$"},
		{name: "dollar before the slash", prefix: "files$/"},
		{name: "control character", prefix: "a\nb/", wantErr: true},
		{name: "invalid UTF-8", prefix: "\xff/", wantErr: true},
		{name: "too long", prefix: strings.Repeat("a", objectkey.MaxKeyBytes-1) + "/", wantErr: true, wantMsg: "1024"},
		{name: "far too long", prefix: strings.Repeat("a", 2*objectkey.MaxKeyBytes), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := objectkey.CheckPrefix(tc.prefix)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("CheckPrefix(%q) = %v, want error: %t", tc.prefix, err, tc.wantErr)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("CheckPrefix(%q) = %q, want a message containing %q", tc.prefix, err, tc.wantMsg)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prefix  string
		key     string
		want    string
		wantErr bool
	}{
		{name: "prefix prepended", prefix: testPrefix, key: "a/b.png", want: "user-uploads/a/b.png"},
		{name: "empty prefix", prefix: "", key: "a/b.png", want: "a/b.png"},
		{name: "prefix without slash", prefix: "up-", key: "b.png", want: "up-b.png"},
		{
			// Asking again with a key that gatepost returned gives the same key.
			name: "key already under the prefix", prefix: testPrefix,
			key: "user-uploads/a/b.png", want: "user-uploads/a/b.png",
		},
		{
			name: "key only partly matching the prefix", prefix: testPrefix,
			key: "user-uploadsX/b.png", want: "user-uploads/user-uploadsX/b.png",
		},
		{
			name: "exactly 1024 bytes with the prefix", prefix: testPrefix,
			key:  strings.Repeat("k", objectkey.MaxKeyBytes-len(testPrefix)),
			want: testPrefix + strings.Repeat("k", objectkey.MaxKeyBytes-len(testPrefix)),
		},
		{
			name: "1025 bytes with the prefix", prefix: testPrefix,
			key: strings.Repeat("k", objectkey.MaxKeyBytes-len(testPrefix)+1), wantErr: true,
		},
		{
			name: "1024 bytes alone but over with the prefix", prefix: testPrefix,
			key: strings.Repeat("k", objectkey.MaxKeyBytes), wantErr: true,
		},
		{
			name: "1024 bytes already under the prefix", prefix: testPrefix,
			key:  testPrefix + strings.Repeat("k", objectkey.MaxKeyBytes-len(testPrefix)),
			want: testPrefix + strings.Repeat("k", objectkey.MaxKeyBytes-len(testPrefix)),
		},
		{
			// The limit is in bytes, not characters: 512 "é" are 1024 bytes.
			name: "multi-byte key at the limit", prefix: "",
			key: strings.Repeat("é", 512), want: strings.Repeat("é", 512),
		},
		{
			name: "multi-byte key over the limit with the prefix", prefix: "p/",
			key: strings.Repeat("é", 512), wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := objectkey.Join(tc.prefix, tc.key)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("Join(%q, %q) error = %v, want error: %t", tc.prefix, tc.key, err, tc.wantErr)
			}
			if err != nil {
				if got != "" {
					t.Errorf("Join returned %q together with an error", got)
				}
				if !strings.Contains(err.Error(), "1024") {
					t.Errorf("Join error %q does not name S3's limit", err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Join(%q, %q) mismatch (-want +got):\n%s", tc.prefix, tc.key, diff)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prefix  string
		in      string
		wantRE  string
		wantErr bool
	}{
		{name: "file name", prefix: testPrefix, in: "photo.png", wantRE: `^user-uploads/` + uuidRE + `-photo\.png$`},
		{name: "path reduced to its last segment", prefix: testPrefix, in: "dir/sub/My Photo (1).png", wantRE: `^user-uploads/` + uuidRE + `-My_Photo__1_\.png$`},
		{name: "unicode name", prefix: "p/", in: "fotos/café.jpg", wantRE: `^p/` + uuidRE + `-caf_\.jpg$`},
		{name: "empty name", prefix: testPrefix, in: "", wantRE: `^user-uploads/` + uuidRE + `$`},
		{name: "name that sanitises to nothing", prefix: testPrefix, in: "...", wantRE: `^user-uploads/` + uuidRE + `$`},
		{name: "empty prefix", prefix: "", in: "a.txt", wantRE: `^` + uuidRE + `-a\.txt$`},
		{name: "long name bounded", prefix: "p/", in: strings.Repeat("n", 500) + ".png", wantRE: `^p/` + uuidRE + `-n{124}\.png$`},
		{name: "prefix leaving no room", prefix: strings.Repeat("p", 1000) + "/", in: "a.png", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := objectkey.Generate(tc.prefix, tc.in)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("Generate(%q, %q) = %q, %v, want error: %t", tc.prefix, tc.in, got, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !regexp.MustCompile(tc.wantRE).MatchString(got) {
				t.Errorf("Generate(%q, %q) = %q, want a match for %s", tc.prefix, tc.in, got, tc.wantRE)
			}
			id := strings.TrimPrefix(got, tc.prefix)[:36]
			if _, err := uuid.Parse(id); err != nil {
				t.Errorf("Generate(%q, %q) = %q: %q after the prefix is not a UUID: %v", tc.prefix, tc.in, got, id, err)
			}
			if err := objectkey.Check(got); err != nil {
				t.Errorf("Generate(%q, %q) = %q, which fails Check: %v", tc.prefix, tc.in, got, err)
			}
		})
	}
}

func TestGenerateIsUnique(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 100 {
		got, err := objectkey.Generate(testPrefix, "photo.png")
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if seen[got] {
			t.Fatalf("Generate returned %q twice", got)
		}
		seen[got] = true
	}
}

func TestSanitizeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "safe name unchanged", in: "photo-1_final.PNG", want: "photo-1_final.PNG"},
		{name: "empty", in: "", want: ""},
		{name: "slash path", in: "a/b/c.png", want: "c.png"},
		{name: "backslash path", in: `C:\Users\me\photo.png`, want: "photo.png"},
		{name: "mixed separators", in: `a\b/c\d.png`, want: "d.png"},
		{name: "trailing slash leaves nothing", in: "dir/", want: ""},
		{name: "dot-dot segment", in: "a/..", want: ""},
		{name: "spaces and brackets", in: "my photo (1).png", want: "my_photo__1_.png"},
		{name: "each non-ASCII character becomes one underscore", in: "café.jpg", want: "caf_.jpg"},
		{name: "control character", in: "a\x00b\nc", want: "a_b_c"},
		{name: "invalid UTF-8", in: "a\xffb", want: "a_b"},
		{name: "policy variable", in: "${filename}", want: "__filename_"},
		{name: "leading dots removed", in: ".hidden", want: "hidden"},
		{name: "many leading dots removed", in: "...png", want: "png"},
		{name: "only dots", in: "..", want: ""},
		{name: "inner and trailing dots kept", in: "a..b.", want: "a..b."},
		{name: "leading underscore kept", in: " .x", want: "_.x"},
		{name: "exactly 128 bytes", in: strings.Repeat("a", 124) + ".png", want: strings.Repeat("a", 124) + ".png"},
		{name: "long name keeps extension", in: strings.Repeat("a", 200) + ".png", want: strings.Repeat("a", 124) + ".png"},
		{name: "long name keeps 16-byte extension", in: strings.Repeat("a", 200) + "." + strings.Repeat("e", 15), want: strings.Repeat("a", 112) + "." + strings.Repeat("e", 15)},
		{name: "long name drops long extension", in: strings.Repeat("a", 200) + "." + strings.Repeat("e", 16), want: strings.Repeat("a", 128)},
		{name: "long non-ASCII name", in: strings.Repeat("é", 200) + ".jpg", want: strings.Repeat("_", 124) + ".jpg"},
		{name: "length counted after leading dots go", in: strings.Repeat(".", 10) + strings.Repeat("a", 128), want: strings.Repeat("a", 128)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := objectkey.SanitizeName(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SanitizeName(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// safeNameRE matches what SanitizeName may return.
var safeNameRE = regexp.MustCompile(`^([A-Za-z0-9_-][A-Za-z0-9._-]{0,127})?$`)

// FuzzKey checks the invariants that keep a caller inside a profile's
// prefix: a key that passes Check stays under the prefix when joined,
// and a generated key always passes Check, whatever the caller sent.
func FuzzKey(f *testing.F) {
	for _, seed := range []string{
		"photo.png",
		"a/b/c.png",
		"fotos/café.jpg",
		"",
		".",
		"..",
		"../etc/passwd",
		"a/../../b",
		"a/..",
		"..a",
		"a..b",
		"/abs",
		"a/",
		"a//b",
		`..\..\windows`,
		"${filename}",
		"$${filename}}",
		"user-uploads/x.png",
		"user-uploads/../x",
		"user-uploads",
		"\x00",
		"a\nb",
		"\x7f",
		"\u0085",
		"\u202egnp.exe",
		"\u200b",
		"\u2028",
		"\ue000",
		"\uffff",
		"\ufffd",
		"\xff\xfe",
		"caf\xc3",
		"\xc0\xaf",
		"．．/x",
		strings.Repeat("a", 1011),
		strings.Repeat("a", 1012),
		strings.Repeat("é", 600),
		strings.Repeat("../", 400),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		name := objectkey.SanitizeName(key)
		if !safeNameRE.MatchString(name) {
			t.Errorf("SanitizeName(%q) = %q, which is not a short safe name", key, name)
		}

		// Generate promises a valid key for a checked name; its sanitising
		// makes that hold for any name, so hold it to that.
		gen, err := objectkey.Generate("p/", key)
		if err != nil {
			t.Fatalf("Generate(%q, %q): %v", "p/", key, err)
		}
		if !strings.HasPrefix(gen, "p/") {
			t.Errorf("Generate(%q, %q) = %q, not under the prefix", "p/", key, gen)
		}
		if err := objectkey.Check(gen); err != nil {
			t.Errorf("Generate(%q, %q) = %q, which fails Check: %v", "p/", key, gen, err)
		}

		if objectkey.Check(key) != nil {
			return
		}
		full, err := objectkey.Join(testPrefix, key)
		if err != nil {
			// The only acceptable reason to refuse a checked key is length.
			n := len(testPrefix + key)
			if strings.HasPrefix(key, testPrefix) {
				n = len(key)
			}
			if n <= objectkey.MaxKeyBytes {
				t.Errorf("Join(%q, %q) refused a key that fits: %v", testPrefix, key, err)
			}
			return
		}
		switch {
		case !strings.HasPrefix(full, testPrefix):
			t.Errorf("Join(%q, %q) = %q, not under the prefix", testPrefix, key, full)
		case !utf8.ValidString(full):
			t.Errorf("Join(%q, %q) = %q, not valid UTF-8", testPrefix, key, full)
		case len(full) > objectkey.MaxKeyBytes:
			t.Errorf("Join(%q, %q) is %d bytes, over %d", testPrefix, key, len(full), objectkey.MaxKeyBytes)
		case strings.Contains(full, "//"):
			t.Errorf("Join(%q, %q) = %q, which contains //", testPrefix, key, full)
		case strings.Contains(full, `\`):
			t.Errorf("Join(%q, %q) = %q, which contains a backslash", testPrefix, key, full)
		}
		for _, segment := range strings.Split(full, "/") {
			if segment == ".." || segment == "." {
				t.Errorf("Join(%q, %q) = %q, which has a %q segment", testPrefix, key, full, segment)
			}
		}
		if err := objectkey.Check(full); err != nil {
			t.Errorf("Join(%q, %q) = %q, which fails Check: %v", testPrefix, key, full, err)
		}
	})
}

// FuzzJoin checks that the key rules survive joining: a prefix that passes
// CheckPrefix and a key that passes Check join into a key that passes Check
// and lies under the prefix, so no rule can be broken across the boundary.
func FuzzJoin(f *testing.F) {
	for _, seed := range [][2]string{
		{"user-uploads/", "a.png"},
		{"", "a.png"},
		{"up-", "load.png"},
		{"a.", "./b"},
		{"a/b", "..c"},
		{"files$", "{filename}"},
		{"user-uploads/", "user-uploads/a"},
		{strings.Repeat("p", 1000) + "/", strings.Repeat("k", 30)},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, prefix, key string) {
		if objectkey.CheckPrefix(prefix) != nil || objectkey.Check(key) != nil {
			return
		}
		full, err := objectkey.Join(prefix, key)
		if err != nil {
			return
		}
		if !strings.HasPrefix(full, prefix) {
			t.Errorf("Join(%q, %q) = %q, not under the prefix", prefix, key, full)
		}
		if err := objectkey.Check(full); err != nil {
			t.Errorf("Join(%q, %q) = %q, which fails Check: %v", prefix, key, full, err)
		}
	})
}

// TestGenerateAlwaysPrepends: a prefix that the UUID may happen to start
// with (one hex digit, no slash) is still always prepended.
func TestGenerateAlwaysPrepends(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^a` + uuidRE + `-x\.txt$`)
	for range 200 {
		got, err := objectkey.Generate("a", "x.txt")
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(got) {
			t.Fatalf("Generate(%q, %q) = %q, want prefix + UUID + name", "a", "x.txt", got)
		}
	}
}
