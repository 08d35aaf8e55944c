package gateway_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/gatepost/gatepost/gateway"
	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// openAPI31 is the generated OpenAPI 3.1 document (make generate).
func openAPI31(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile("../gen/gatepost/v1/upload.openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPI31Valid: the OpenAPI 3.1 document is valid by pb33f's
// validator (the OpenAPI 3.1 schema, and every reference resolved) and
// describes every REST route.
func TestOpenAPI31Valid(t *testing.T) {
	t.Parallel()
	raw := openAPI31(t)
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Errorf("version %q, want 3.1.0", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("NewValidator: %v", errs)
	}
	if ok, problems := v.ValidateDocument(); !ok {
		for _, p := range problems {
			t.Errorf("invalid: %s: %s", p.Message, p.Reason)
		}
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/presign", "/v1/presign-put", "/v1/multipart", "/v1/multipart/parts", "/v1/multipart/complete",
		"/v1/multipart/abort", "/v1/multipart/list", "/v1/uploads/{key}", "/v1/uploads/finalize", "/v1/quota"} {
		if _, ok := model.Model.Paths.PathItems.Get(path); !ok {
			t.Errorf("the document has no %s", path)
		}
	}
}

// presignService answers CreatePresignedPost with the key it was asked for.
type presignService struct {
	gatepostv1.UnimplementedUploadServiceServer
}

func (presignService) CreatePresignedPost(_ context.Context, req *gatepostv1.CreatePresignedPostRequest) (*gatepostv1.CreatePresignedPostResponse, error) {
	return &gatepostv1.CreatePresignedPostResponse{Url: "http://127.0.0.1:9/uploads", Key: "user-uploads/" + req.GetKey(), Bucket: "uploads",
		Fields: map[string]string{"key": "user-uploads/" + req.GetKey()}}, nil
}

// TestOpenAPI31Client: a TypeScript client generated from the served
// OpenAPI 3.1 document (openapi-typescript, pinned) and called through
// openapi-fetch compiles strictly and makes a real call to the gateway.
func TestOpenAPI31Client(t *testing.T) {
	t.Parallel()
	tools, _ := filepath.Abs("../tools/npm/node_modules")
	if _, err := os.Stat(filepath.Join(tools, ".bin", "openapi-typescript")); err != nil {
		if os.Getenv("GATEPOST_REQUIRE_NPM") != "" {
			t.Fatalf("the pinned JavaScript tools are missing (run `make npm`): %v", err)
		}
		t.Skip("the pinned JavaScript tools are missing: run `make npm`")
	}
	ts := newGateway(t, presignService{}, gateway.Options{OpenAPI31: openAPI31(t)})
	resp, err := http.Get(ts.URL + "/openapi-3.1.json")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	dir := t.TempDir()
	if err := os.Symlink(tools, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("openapi.json", string(served))
	write("package.json", `{"name": "client", "private": true, "type": "module"}`)
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(filepath.Join(tools, ".bin", "openapi-typescript"), "openapi.json", "-o", "api.d.ts")
	write("client.ts", `import createClient from "openapi-fetch";
import type { paths } from "./api.js";

// Node's process, without @types/node.
const baseUrl: string = (globalThis as unknown as { process: { argv: string[] } }).process.argv[2];
const client = createClient<paths>({ baseUrl });
const { data, error } = await client.GET("/v1/presign", {
  params: { query: { key: "hello.txt", content_type: "text/plain" } },
});
if (error || !data) throw new Error("presign failed: " + JSON.stringify(error));
const key: string | undefined = data.key;
console.log(key + " " + Object.keys(data.fields ?? {}).join(","));
`)
	run(filepath.Join(tools, ".bin", "tsc"), "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
		"--lib", "es2022,dom", "--skipLibCheck", "client.ts")
	if got := strings.TrimSpace(run("node", "client.js", ts.URL)); got != "user-uploads/hello.txt key" {
		t.Errorf("the generated client printed %q", got)
	}
}
