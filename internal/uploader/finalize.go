package uploader

import (
	"context"
	"errors"
	"strings"
	"time"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
)

// finalizeAttempts and finalizeWait bound how often, and how long apart
// at first, Finalize asks again while gatepost cannot verify (503).
const (
	finalizeAttempts = 4
	finalizeWait     = time.Second
)

// Finalize asks gatepost to verify the upload at key and returns the
// verdict; a rejection is a verdict, not an error (see Rejection). While
// gatepost answers that it cannot verify now it asks again a few times,
// with growing waits.
func (c *Client) Finalize(ctx context.Context, profile, key string) (*gatepostv1.FinalizeUploadResponse, error) {
	req := &gatepostv1.FinalizeUploadRequest{Profile: profile, Key: key}
	wait := finalizeWait
	for attempt := 1; ; attempt++ {
		resp := &gatepostv1.FinalizeUploadResponse{}
		err := c.call(ctx, gatepostv1.UploadService_FinalizeUpload_FullMethodName, req, resp)
		var g *GatepostError
		if err == nil || !errors.As(err, &g) || g.HTTPStatus != 503 || attempt == finalizeAttempts {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// Rejection returns an error saying why verification rejected an upload,
// or nil when state is not REJECTED.
func Rejection(state gatepostv1.UploadState, reasons []string) error {
	if state != gatepostv1.UploadState_UPLOAD_STATE_REJECTED {
		return nil
	}
	return &RejectedError{Reasons: reasons}
}

// RejectedError is an upload that arrived but that verification rejected.
type RejectedError struct {
	// Reasons say why, in words.
	Reasons []string
}

func (e *RejectedError) Error() string {
	return "gatepost rejected the upload: " + strings.Join(e.Reasons, "; ")
}
