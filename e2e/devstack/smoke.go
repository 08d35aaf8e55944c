package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gatepost/gatepost/e2e/seaweed"
)

type presigned struct {
	URL    string            `json:"url"`
	Fields map[string]string `json:"fields"`
	Key    string            `json:"key"`
}

func presign(ctx context.Context, url string) (*presigned, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("presign: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("presign: %s: %s", resp.Status, body)
	}
	var p presigned
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("presign answer: %w", err)
	}
	return &p, nil
}

// smoke runs the commands the banner prints (all but the jq variant, since
// jq may be missing), checks that each answers as the banner says, and
// that the upload landed.
func smoke(ctx context.Context, c *tryCommands, store *seaweed.Server, hooks *receiver) error {
	steps := []struct {
		name, line, want string
	}{
		{"REST presign", c.presign, `"policy"`},
		{"gRPC presign", c.grpc, `"policy"`},
		{"gRPC list", c.check, "gatepost.v1.UploadService"},
		{"upload", c.upload, "204"},
		{"finalize", c.finalize, "UPLOAD_STATE_VERIFIED"},
		{"demo page", "curl -s " + c.page, `src="/demo.js"`},
		{"CLI upload", c.cli, "uploaded "},
		{"refused type", c.refusedType, `is not allowed by profile`},
		{"too big for the store", c.tooBig, "EntityTooLarge"},
		{"too big for the CLI", c.cliTooBig + "; echo exit=$?", "exit=3"},
	}
	for _, s := range steps {
		out, err := shell(ctx, s.line)
		if err != nil || !strings.Contains(out, s.want) {
			return fmt.Errorf("%s: %v\n$ %s\n%s", s.name, err, s.line, out)
		}
		fmt.Printf("smoke: %s ok\n", s.name)
	}
	head, err := store.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(c.key)})
	if err != nil {
		return fmt.Errorf("uploaded object %s: %w", c.key, err)
	}
	if !strings.HasPrefix(aws.ToString(head.ContentType), "text/plain") {
		return fmt.Errorf("uploaded object has Content-Type %q", aws.ToString(head.ContentType))
	}
	fmt.Printf("smoke: object s3://%s/%s stored (%d bytes)\n", bucket, c.key, aws.ToInt64(head.ContentLength))
	deadline := time.After(30 * time.Second)
	for {
		if typ, ok := hooks.event(c.key); ok {
			if typ != "upload.verified" {
				return fmt.Errorf("webhook about %s: %s, want upload.verified", c.key, typ)
			}
			fmt.Printf("smoke: signed webhook %s received\n", typ)
			return nil
		}
		select {
		case <-hooks.got:
		case <-deadline:
			return fmt.Errorf("no signed webhook about %s reached the local receiver", c.key)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
