package staging

import (
	"testing"
	"time"
)

func TestDeclarationRoundTrip(t *testing.T) {
	issued := time.Unix(1764000000, 0)
	tests := []Declaration{
		{Subject: "alice", Profile: "avatars", Size: 1234, ChecksumSHA256: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", Issued: issued},
		{Subject: "CN=svc, O=Ünï &=?", Profile: "docs", Size: -1, Issued: issued},
		{Subject: "bob", Profile: "p", Size: 0, Issued: issued},
	}
	for _, want := range tests {
		encoded := want.Encode()
		for i := 0; i < len(encoded); i++ {
			if c := encoded[i]; c < 0x20 || c > 0x7e {
				t.Fatalf("Encode(%+v) = %q: byte %d is not printable ASCII", want, encoded, i)
			}
		}
		got, err := Parse(map[string]string{MetadataName: encoded, "other": "x"})
		if err != nil || got != want {
			t.Errorf("Parse(Encode(%+v)) = %+v, %v", want, got, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	tests := map[string]map[string]string{
		"missing":     {"other": "x"},
		"no subject":  {MetadataName: "p=avatars&t=1"},
		"bad size":    {MetadataName: "s=a&p=b&n=-3&t=1"},
		"bad time":    {MetadataName: "s=a&p=b&t=soon"},
		"bad escapes": {MetadataName: "s=%zz&p=b&t=1"},
	}
	for name, md := range tests {
		if _, err := Parse(md); err == nil {
			t.Errorf("%s: Parse(%v) accepted it", name, md)
		}
	}
}

func TestKeys(t *testing.T) {
	if got := Key("u/a.png"); got != ".gatepost/staging/u/a.png" || !IsReserved(got) {
		t.Errorf("Key = %q", got)
	}
	if got := QuarantineKey("u/a.png"); got != ".gatepost/quarantine/u/a.png" || !IsReserved(got) {
		t.Errorf("QuarantineKey = %q", got)
	}
	for key, want := range map[string]string{".gatepost/staging/u/a.png": "u/a.png", ".gatepost/staging/": "", "u/a.png": "", ".gatepost/quarantine/x": ""} {
		if got, ok := Final(key); got != want || ok != (want != "") {
			t.Errorf("Final(%q) = %q, %v", key, got, ok)
		}
	}
	if md := UserMetadata(map[string]string{MetadataName: "x", "a": "b"}); len(md) != 1 || md["a"] != "b" {
		t.Errorf("UserMetadata = %v", md)
	}
}
