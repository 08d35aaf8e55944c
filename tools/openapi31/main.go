// Command openapi31 turns the OpenAPI 2.0 document protoc-gen-openapiv2
// writes into an OpenAPI 3.1 document, with kin-openapi: openapi2conv
// converts it to 3.0, openapi3conv rewrites its schemas into the 3.1 forms
// (nullable as type arrays, numeric exclusive bounds, examples), and the
// version is set to 3.1.0.
//
// It exists because grpc-gateway's protoc-gen-openapiv3 reads only
// google.api.http annotations in the protos, while gatepost keeps its
// routes in upload_http.yaml (so that code generation needs no googleapis
// protos and no schema registry).
//
//	openapi31 IN.swagger.json OUT.openapi.json
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3conv"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "openapi31: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: openapi31 IN.swagger.json OUT.openapi.json")
	}
	raw, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var v2 openapi2.T
	if err := json.Unmarshal(raw, &v2); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return fmt.Errorf("convert to OpenAPI 3: %w", err)
	}
	openapi3conv.Upgrade(v3)
	v3.OpenAPI = "3.1.0"
	out, err := json.MarshalIndent(v3, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(args[1], append(out, '\n'), 0o644)
}
