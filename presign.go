package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"
)

// presignCommand implements `gatepost presign`: it prints gatepost's answer
// as JSON.
func presignCommand(ctx context.Context, args []string, c cli) error {
	fs := newFlagSet("presign", args, c)
	f := newClientFlags(fs, c.getenv)
	defer f.client.Close()
	var length optionalSize
	fs.Var(&length, "content-length", "declared size in `bytes`; the policy then allows exactly this size (default: any size the profile allows)")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	switch {
	case fs.NArg() > 0:
		return usageError{error: fmt.Errorf("unexpected arguments %q (presign takes flags only; to upload a file use `gatepost upload FILE`)", fs.Args())}
	case f.key == "":
		return usageError{error: errors.New("-key is required: the object key or file name to presign")}
	case f.contentType == "":
		return usageError{error: errors.New("-content-type is required, for example -content-type image/png")}
	}
	if err := f.configureTLS(); err != nil {
		return err
	}
	req := f.request()
	if length.set {
		req.ContentLength = proto.Int64(length.n)
	}
	_, raw, err := f.client.Presign(ctx, req)
	if err != nil {
		return explain(err)
	}
	// Indented here, the same whichever transport answered (protojson
	// varies its spacing on purpose, so it is never printed as it came).
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return fmt.Errorf("the answer is not JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err = c.stdout.Write(out.Bytes())
	return err
}

// optionalSize is a flag for a size in bytes that may be left unset.
type optionalSize struct {
	n   int64
	set bool
}

func (o *optionalSize) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatInt(o.n, 10)
}

func (o *optionalSize) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return errors.New("want a whole number of bytes, 0 or more, in digits")
	}
	o.n, o.set = n, true
	return nil
}
