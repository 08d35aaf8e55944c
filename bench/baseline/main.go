// Command baseline is the bare presign server gatepost's REST throughput is
// compared with in BENCHMARKS.md: a plain net/http handler that calls the
// AWS SDK's PresignPostObject for the key in the query and writes the JSON,
// with no validation, authentication, metrics or logging (the classic
// "Lambda calling generate_presigned_post", done in Go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "baseline: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	endpoint := flag.String("endpoint", "http://127.0.0.1:9", "S3 endpoint written into the URLs (never contacted)")
	bucket := flag.String("bucket", "uploads", "bucket")
	flag.Parse()

	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(*endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCHMARK", "benchmark-secret", ""),
	})
	presigner := s3.NewPresignClient(client)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /presign", func(w http.ResponseWriter, r *http.Request) {
		out, err := presigner.PresignPostObject(r.Context(), &s3.PutObjectInput{
			Bucket: bucket, Key: aws.String(r.URL.Query().Get("key")),
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"url": out.URL, "fields": out.Values})
	})
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(lis.Addr().String()) // the harness reads the address
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
