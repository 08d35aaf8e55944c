// Package e2e holds gatepost's end-to-end tests: gatepost signs policies and
// a real S3-compatible server (SeaweedFS, with signature checking on)
// accepts or rejects the uploads made with them.
//
// The tests need the weed binary (`make weed` builds it; `make test` passes
// its path in GATEPOST_WEED). Without it they are skipped, unless
// GATEPOST_REQUIRE_S3 is set, in which case they fail. They are skipped with
// -short.
package e2e
