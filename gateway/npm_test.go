package gateway

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireNPMEnv makes the npm package test fail rather than skip without
// npm or the pinned TypeScript (CI sets it).
const requireNPMEnv = "GATEPOST_REQUIRE_NPM"

// TestNPMPackage: `npm pack` of gateway/web builds @gatepost/client; a
// project installs it from the tarball (offline); its declarations pass
// the pinned TypeScript's strict check and refuse a wrong call; Node
// resolves its exports; and its gatepost.js is the one the server serves.
func TestNPMPackage(t *testing.T) {
	npm, npmErr := exec.LookPath("npm")
	tsc, _ := filepath.Abs("../tools/npm/node_modules/.bin/tsc")
	_, tscErr := os.Stat(tsc)
	if npmErr != nil || tscErr != nil {
		if os.Getenv(requireNPMEnv) != "" {
			t.Fatalf("npm or the pinned TypeScript is missing (run `make npm`): %v %v", npmErr, tscErr)
		}
		t.Skip("npm or the pinned TypeScript is missing: run `make npm`")
	}
	run := func(dir string, name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	packs := t.TempDir()
	out, err := run("web", npm, "pack", "--pack-destination", packs)
	if err != nil {
		t.Fatalf("npm pack: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	tarball := filepath.Join(packs, strings.TrimSpace(lines[len(lines)-1]))

	project := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(project, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name": "consumer", "private": true, "type": "module"}`)
	if out, err := run(project, npm, "install", "--offline", "--no-save", tarball); err != nil {
		t.Fatalf("npm install of the tarball: %v\n%s", err, out)
	}
	write("ok.ts", `import { uploadFile, uploadLargeFile, finalize, presign, UploadError, type UploadResult } from "@gatepost/client";
export async function use(file: File): Promise<string> {
  try {
    const r: UploadResult = await uploadFile(file, { token: "t", profile: "p", metadata: { owner: "me" }, onProgress: (p) => void p.fraction });
    const big = await uploadLargeFile(file, { concurrency: 2, resume: true });
    const v = await finalize(r.key, { profile: "p" });
    const p = await presign(file);
    return r.location + big.sniffedType + v.state + p.fields["key"];
  } catch (e) {
    if (e instanceof UploadError) return e.source + e.code + e.reasons.join();
    throw e;
  }
}
`)
	write("uppy.ts", `import { gatepostUploader, type GatepostUploaderOptions } from "@gatepost/client/uppy";
class BasePlugin { constructor(public uppy: unknown, public opts: unknown) {} }
export const Plugin = gatepostUploader(BasePlugin);
export const opts: GatepostUploaderOptions = { endpoint: "", token: async () => "t", profile: "p", multipartThreshold: 1 << 20, key: (f) => f.id };
`)
	write("bad.ts", `import { uploadFile } from "@gatepost/client";
export const x = uploadFile(new File([], "a"), { concurrency: "4" });
`)
	flags := []string{"--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--lib", "es2022,dom"}
	if out, err := run(project, tsc, append(flags, "ok.ts")...); err != nil {
		t.Errorf("tsc on a correct use: %v\n%s", err, out)
	}
	if out, err := run(project, tsc, append(flags, "uppy.ts")...); err != nil {
		t.Errorf("tsc on a use of the Uppy plugin: %v\n%s", err, out)
	}
	if out, err := run(project, tsc, append(flags, "bad.ts")...); err == nil || !strings.Contains(out, "concurrency") {
		t.Errorf("tsc accepted a wrong option (concurrency on uploadFile): %v\n%s", err, out)
	}
	out, err = run(project, "node", "--input-type=module", "-e", `import * as m from "@gatepost/client"; console.log(Object.keys(m).sort().join(","))`)
	if err != nil || strings.TrimSpace(out) != "UploadError,finalize,presign,uploadFile,uploadLargeFile" {
		t.Errorf("node import: %v %q", err, out)
	}
	out, err = run(project, "node", "--input-type=module", "-e", `import * as m from "@gatepost/client/uppy"; console.log(Object.keys(m).join(","))`)
	if err != nil || strings.TrimSpace(out) != "gatepostUploader" {
		t.Errorf("node import of @gatepost/client/uppy: %v %q", err, out)
	}
	for _, name := range []string{"gatepost.js", "gatepost-uppy.js"} {
		packed, err := os.ReadFile(filepath.Join(project, "node_modules", "@gatepost", "client", name))
		if err != nil {
			t.Fatal(err)
		}
		served, _ := web.ReadFile("web/" + name)
		if !bytes.Equal(packed, served) {
			t.Errorf("the package's %s is not the one the server serves", name)
		}
	}
}
