package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"time"

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
			abs, _ := filepath.Abs(path)
			saved = &tokenFile{path: *resume, of: uploadedFile{Path: abs, Size: info.Size(), Modified: info.ModTime()}}
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

// tokenFile keeps a multipart upload's token in a file, readable by its
// owner only (the token lets its holder finish the upload), with what it
// is the upload of: the local file's path, size and modification time. A
// file without gatepost's marker is never read as a token, nor removed.
type tokenFile struct {
	path string
	of   uploadedFile
}

// uploadedFile says which local file an upload token is for.
type uploadedFile struct {
	Path     string    `json:"file"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// savedToken is a token file's content.
type savedToken struct {
	Marker string `json:"gatepost_upload_token"`
	Token  string `json:"token"`
	uploadedFile
}

const (
	tokenMarker       = "v1"
	maxTokenFileBytes = 64 << 10
)

var _ uploader.State = (*tokenFile)(nil)

// read returns the saved token, nil when the file does not exist.
func (f *tokenFile) read() (*savedToken, error) {
	file, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	raw, err := io.ReadAll(io.LimitReader(file, maxTokenFileBytes+1))
	if err != nil {
		return nil, err
	}
	var saved savedToken
	if len(raw) > maxTokenFileBytes || json.Unmarshal(raw, &saved) != nil || saved.Marker != tokenMarker || saved.Token == "" {
		return nil, fmt.Errorf("-resume %s: the file exists and is not a gatepost upload token file (choose another name)", f.path)
	}
	return &saved, nil
}

func (f *tokenFile) Load() (string, error) {
	saved, err := f.read()
	if err != nil || saved == nil {
		return "", err
	}
	if saved.Path != f.of.Path || saved.Size != f.of.Size || !saved.Modified.Equal(f.of.Modified) {
		return "", fmt.Errorf("-resume %s: it holds the upload of %s (%d bytes, modified %s), not of this file; remove it or choose another",
			f.path, saved.Path, saved.Size, saved.Modified.Format(time.RFC3339))
	}
	return saved.Token, nil
}

func (f *tokenFile) Save(token string) error {
	raw, err := json.Marshal(savedToken{Marker: tokenMarker, Token: token, uploadedFile: f.of})
	if err != nil {
		return err
	}
	// A new file, renamed over the old: its mode is 0600 whatever an
	// existing file's was.
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".gatepost-token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path)
}

func (f *tokenFile) Clear() error {
	if saved, err := f.read(); err != nil || saved == nil {
		return err // not ours: left alone
	}
	return os.Remove(f.path)
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
