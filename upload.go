package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/uploader"
)

// uploadCommand implements `gatepost upload FILE`: presign, POST the file
// to the store (with a progress bar when stderr is a terminal), then have
// gatepost verify it; a rejected upload is an error.
func uploadCommand(ctx context.Context, args []string, cl cli) error {
	stdout, stderr := cl.stdout, cl.stderr
	fs := newFlagSet("upload", args, cl)
	c := newClientFlags(fs, cl.getenv)
	defer c.client.Close()
	quiet := fs.Bool("quiet", false, "no progress bar")
	threshold := fs.Int64("multipart-threshold", 64<<20, "files larger than this many `bytes` go up as multipart uploads")
	parallel := fs.Int("parallel", 4, "`parts` uploaded at once in a multipart upload")
	resume := fs.String("resume", "", "keep a multipart upload's token in `FILE` until it completes; run the same command again to send only the parts the store lacks")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() != 1 {
		return usageError{error: fmt.Errorf("upload takes one FILE, not %d arguments; usage: gatepost upload [flags] FILE (flags before the file)", fs.NArg())}
	}
	if *parallel < 1 {
		return usageError{error: fmt.Errorf("-parallel must be at least 1, not %d", *parallel)}
	}
	if err := c.configureTLS(); err != nil {
		return err
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if c.key == "" {
		c.key = filepath.Base(path)
	}
	if c.contentType == "" {
		c.contentType = mime.TypeByExtension(filepath.Ext(path))
		if c.contentType == "" {
			c.contentType = "application/octet-stream"
		}
	}
	var progress func(io.Reader) io.Reader
	if !*quiet && isTerminal(stderr) {
		bar := progressbar.DefaultBytes(info.Size(), "uploading "+filepath.Base(path))
		progressbar.OptionSetWriter(stderr)(bar)
		progress = func(r io.Reader) io.Reader {
			pr := progressbar.NewReader(r, bar)
			return &pr
		}
	}
	req := c.request()
	if info.Size() > *threshold {
		var saved uploader.State
		if *resume != "" {
			saved = tokenFile(*resume)
		}
		done, err := c.client.UploadMultipartResumable(ctx, &gatepostv1.CreateMultipartUploadRequest{
			Key: req.GetKey(), ContentType: req.GetContentType(), Profile: req.GetProfile(),
			Metadata: req.GetMetadata(), TotalSize: proto.Int64(info.Size()),
		}, f, *parallel, progress, saved)
		if err != nil {
			return explain(err)
		}
		// Completing verified it, unless gatepost could not yet.
		state, reasons, sniffed := done.GetState(), done.GetReasons(), done.GetSniffedType()
		if state == gatepostv1.UploadState_UPLOAD_STATE_PENDING {
			v, err := c.client.Finalize(ctx, req.GetProfile(), done.GetKey())
			if err != nil {
				return fmt.Errorf("uploaded s3://%s/%s, but it is not verified yet: %w", done.GetBucket(), done.GetKey(), explain(err))
			}
			state, reasons, sniffed = v.GetState(), v.GetReasons(), v.GetSniffedType()
		}
		if err := uploader.Rejection(state, reasons); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "uploaded %s (%d bytes, multipart) to s3://%s/%s%s\n", path, info.Size(), done.GetBucket(), done.GetKey(), verdictNote(sniffed))
		return nil
	}
	req.ContentLength = proto.Int64(info.Size())
	p, _, err := c.client.Presign(ctx, req)
	if err != nil {
		return explain(err)
	}
	if err := c.client.Upload(ctx, p, filepath.Base(path), f, info.Size(), progress); err != nil {
		return err
	}
	v, err := c.client.Finalize(ctx, req.GetProfile(), p.Key)
	if err != nil {
		return fmt.Errorf("uploaded s3://%s/%s, but it is not verified yet: %w", p.Bucket, p.Key, explain(err))
	}
	if err := uploader.Rejection(v.GetState(), v.GetReasons()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "uploaded %s (%d bytes) to s3://%s/%s%s\n", path, info.Size(), p.Bucket, p.Key, verdictNote(v.GetSniffedType()))
	return nil
}

// tokenFile keeps a multipart upload's token in a file (readable by its
// owner only: the token lets its holder finish the upload).
type tokenFile string

var _ uploader.State = tokenFile("")

func (f tokenFile) Load() (string, error) {
	b, err := os.ReadFile(string(f))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(b)), err
}

func (f tokenFile) Save(token string) error {
	return os.WriteFile(string(f), []byte(token+"\n"), 0o600)
}

func (f tokenFile) Clear() error {
	if err := os.Remove(string(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// verdictNote is what the upload line adds about a verified upload.
func verdictNote(sniffed string) string {
	if sniffed == "" {
		return ", verified"
	}
	return ", verified (its bytes are " + sniffed + ")"
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
