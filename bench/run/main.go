// Command run is what `make bench` runs: on the machine it runs on, in one
// run, it measures gatepost's presign path against the AWS SDK's bare
// PresignPostObject (go test -bench), REST throughput with wrk against the
// bare baseline server (bench/baseline) and /healthz, gRPC throughput with
// ghz against grpc.health.v1.Health/Check, and a soak at a steady rate
// with RSS at its start and end. It writes the medians to BENCHMARKS.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	gatepost, baseline, ghz, wrk, out string
	runs, connections, soakRPS        int
	duration, soak                    time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var o options
	flag.StringVar(&o.gatepost, "gatepost", ".bin/gatepost", "gatepost binary")
	flag.StringVar(&o.baseline, "baseline", ".bin/baseline", "baseline binary")
	flag.StringVar(&o.ghz, "ghz", ".bin/ghz", "ghz binary")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.IntVar(&o.runs, "runs", 3, "runs of each load test (the median is reported)")
	flag.IntVar(&o.connections, "connections", 64, "concurrent connections")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each load test")
	flag.DurationVar(&o.soak, "soak", 5*time.Minute, "length of the soak (0 to skip)")
	flag.IntVar(&o.soakRPS, "soak-rps", 2000, "steady request rate of the soak")
	flag.Parse()

	var r report
	r.Machine = machine()
	fmt.Println("bench: go test -bench (presign path vs the SDK's PresignPostObject) ...")
	var err error
	if r.GoBench, err = goBenchmarks(ctx); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "gatepost-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	base, err := startBaseline(ctx, o.baseline)
	if err != nil {
		return err
	}
	defer base.stop()
	gp, err := startGatepost(ctx, o.gatepost, dir, "")
	if err != nil {
		return err
	}
	defer gp.stop()
	// The same gatepost with its rate limit and a byte quota in Redis
	// (Debian's redis-server, on this machine too).
	redisSrv, err := startRedis(ctx)
	if err != nil {
		return err
	}
	defer redisSrv.stop()
	gpRedis, err := startGatepost(ctx, o.gatepost, filepath.Join(dir, "redis"), "redis://"+redisSrv.addr+"/0")
	if err != nil {
		return err
	}
	defer gpRedis.stop()

	// Every presign load, the baseline's too, runs the same wrk script, so
	// that wrk's share of the cores is the same for each.
	rotate, err := rotateKeysScript(dir)
	if err != nil {
		return err
	}
	// The REST presign loads use profile metered: the rate limit and a
	// byte quota, in memory or in Redis, the one difference between them.
	presign := "/v1/presign?profile=metered&key=bench.txt&content_type=text/plain"
	targets := []struct {
		name, url, script string
		into              *[]wrkResult
		pids              []int // whose CPU per request is measured
	}{
		{"gatepost GET /v1/presign", "http://" + gp.httpAddr + presign, rotate, &r.RESTGatepost, []int{gp.pid()}},
		{"gatepost GET /v1/presign, limits and quota in Redis", "http://" + gpRedis.httpAddr + presign, rotate, &r.RESTRedis, []int{gpRedis.pid(), redisSrv.pid()}},
		{"baseline GET /presign", "http://" + base.addr + "/presign?key=user-uploads/bench.txt", rotate, &r.RESTBaseline, []int{base.pid()}},
		{"gatepost GET /healthz", "http://" + gp.httpAddr + "/healthz", "", &r.RESTHealthz, []int{gp.pid()}},
	}
	for i := range o.runs {
		for _, tg := range targets {
			fmt.Printf("bench: wrk run %d/%d: %s ...\n", i+1, o.runs, tg.name)
			res, err := runWrk(ctx, o, tg.url, tg.script, tg.pids...)
			if err != nil {
				return err
			}
			*tg.into = append(*tg.into, res)
		}
		for _, call := range []struct {
			method, data string
			into         *[]ghzResult
		}{
			{"gatepost.v1.UploadService/CreatePresignedPost", `{"key":"bench.txt","content_type":"text/plain"}`, &r.GRPCPresign},
			{"grpc.health.v1.Health/Check", `{}`, &r.GRPCHealth},
		} {
			fmt.Printf("bench: ghz run %d/%d: %s ...\n", i+1, o.runs, call.method)
			res, err := runGhz(ctx, o, gp.grpcAddr, call.method, call.data, o.connections, 0, o.duration, gp.pid())
			if err != nil {
				return err
			}
			*call.into = append(*call.into, res)
		}
	}

	if o.soak > 0 {
		fmt.Printf("bench: soak, %s at %d requests/s ...\n", o.soak, o.soakRPS)
		// A gatepost of its own: the one above holds the loads' quota
		// reservations (a minute's worth, in memory) in its heap.
		soaked, err := startGatepost(ctx, o.gatepost, filepath.Join(dir, "soak"), "")
		if err != nil {
			return err
		}
		defer soaked.stop()
		// Warm up, then read the resident set size at the start and end.
		if _, err := runGhz(ctx, o, soaked.grpcAddr, "gatepost.v1.UploadService/CreatePresignedPost", `{"key":"soak.txt","content_type":"text/plain"}`, 16, o.soakRPS, 10*time.Second); err != nil {
			return err
		}
		r.Soak.RSSStartKiB = rssKiB(soaked.pid())
		res, err := runGhz(ctx, o, soaked.grpcAddr, "gatepost.v1.UploadService/CreatePresignedPost", `{"key":"soak.txt","content_type":"text/plain"}`, 16, o.soakRPS, o.soak)
		if err != nil {
			return err
		}
		r.Soak.RSSEndKiB = rssKiB(soaked.pid())
		r.Soak.Duration, r.Soak.RPS, r.Soak.Result = o.soak, o.soakRPS, res
	}
	r.Options = o
	text := r.markdown()
	if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Printf("bench: wrote %s\n\n%s", o.out, r.summary())
	return nil
}

// benchKey is the API key the load uses; gatepost runs with every feature
// on: API-key authentication, validation, metrics, logging, a rate limit
// high enough not to refuse.
const benchKey = "gp_bench_key_0123456789abcdef0123456789"

// benchSubjects is how many subjects (API keys) the REST load spreads its
// requests over, a different one for each request: a byte quota keeps at
// most quota.MaxReservations credentials per subject and window, which one
// subject at thousands of requests a second would fill within seconds and
// then be refused.
const benchSubjects = 256

// subjectKey is the API key of bench subject i.
func subjectKey(i int) string { return fmt.Sprintf("%s-%03d", benchKey, i) }

// rotateKeysScript is a wrk script that sends each request with the next
// subject's API key.
func rotateKeysScript(dir string) (string, error) {
	var b strings.Builder
	b.WriteString("local keys = {")
	for i := range benchSubjects {
		fmt.Fprintf(&b, "%q,", "Bearer "+subjectKey(i))
	}
	b.WriteString("}\nlocal i = 0\nrequest = function()\n  i = i + 1\n" +
		"  return wrk.format(nil, nil, {[\"Authorization\"] = keys[(i % #keys) + 1]})\nend\n")
	path := filepath.Join(dir, "rotate-keys.lua")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

type process struct {
	cmd                      *exec.Cmd
	addr, httpAddr, grpcAddr string
	stopped                  chan struct{}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.stopped:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

func startBaseline(ctx context.Context, bin string) (*process, error) {
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start baseline: %w", err)
	}
	p := &process{cmd: cmd, stopped: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.stopped) }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("baseline address: %w", err)
	}
	p.addr = strings.TrimSpace(line)
	return p, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startRedis starts Debian's redis-server on a free loopback port, with
// no persistence.
func startRedis(ctx context.Context) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(ctx, "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server (apt-get install redis-server): %w", err)
	}
	p := &process{cmd: cmd, addr: addr, stopped: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.stopped) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startGatepost starts gatepost for the load; with redisURL, its rate
// limit and byte quotas are kept in that Redis. Profile metered has a
// quota (never reached), default none: the gRPC loads use one subject,
// whose window would fill with quota.MaxReservations credentials within
// a second.
func startGatepost(ctx context.Context, bin, dir, redisURL string) (*process, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, benchSubjects+1)
	for i := range benchSubjects + 1 {
		subject, key := fmt.Sprintf("bench-%03d", i), subjectKey(i)
		if i == benchSubjects {
			subject, key = "bench", benchKey
		}
		sum := sha256.Sum256([]byte(key))
		keys = append(keys, fmt.Sprintf("{subject: %s, sha256: %q, profiles: [default, metered]}", subject, hex.EncodeToString(sum[:])))
	}
	cfg := fmt.Sprintf(`grpc_addr: %q
http_addr: %q
s3: {region: us-east-1, endpoint: "http://127.0.0.1:9", path_style: true}
profiles:
  default: {bucket: uploads, key_prefix: "user-uploads/", max_bytes: 10485760, content_types: ["text/plain", "image/png"]}
  metered: {bucket: uploads, key_prefix: "metered-uploads/", max_bytes: 10485760, content_types: ["text/plain", "image/png"], quota: {bytes: 9000000000000000000, per: 1m}}
auth:
  mode: api_key
  api_keys: [%s]
rate_limit: {requests_per_second: 1000000000, burst: 1000000000}
`, grpcAddr, httpAddr, strings.Join(keys, ", "))
	if redisURL != "" {
		cfg += fmt.Sprintf("shared_state: {redis_url: %q}\n", redisURL)
	}
	path := filepath.Join(dir, "gatepost.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "gatepost.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "-config", path)
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=AKIDBENCHMARK", "AWS_SECRET_ACCESS_KEY=benchmark-secret")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start gatepost: %w", err)
	}
	p := &process{cmd: cmd, httpAddr: httpAddr, grpcAddr: grpcAddr, stopped: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.stopped) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("gatepost did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wrkResult is one wrk run.
type wrkResult struct {
	RPS      float64
	P50, P99 time.Duration
	Errors   int
	// CPU is the CPU time per request of each measured process (the
	// server, then Redis when there is one), and Load wrk's own.
	CPU  []time.Duration
	Load time.Duration
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func runWrk(ctx context.Context, o options, url, script string, pids ...int) (wrkResult, error) {
	args := []string{"-t2", "-c" + strconv.Itoa(o.connections), "-d" + o.duration.String(), "--latency"}
	if script != "" {
		args = append(args, "-s", script)
	}
	before := make([]time.Duration, len(pids))
	for i, pid := range pids {
		before[i] = cpuTime(pid)
	}
	cmd := exec.CommandContext(ctx, o.wrk, append(args, url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", url, err, out)
	}
	var r wrkResult
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk output without Requests/sec:\n%s", out)
	}
	r.RPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := wrkRequests.FindSubmatch(out); m != nil {
		if n, _ := strconv.Atoi(string(m[1])); n > 0 {
			for i, pid := range pids {
				r.CPU = append(r.CPU, (cpuTime(pid)-before[i])/time.Duration(n))
			}
			r.Load = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()) / time.Duration(n)
		}
	}
	for _, l := range wrkLatency.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(l[2]), 64)
		d := time.Duration(v * float64(map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(l[3])]))
		if string(l[1]) == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		r.Errors, _ = strconv.Atoi(string(m[1]))
	}
	if m := wrkSocket.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			r.Errors += n
		}
	}
	return r, nil
}

// ghzResult is one ghz run.
type ghzResult struct {
	RPS      float64
	P50, P99 time.Duration
	OK       int
	Errors   int
	// CPU is gatepost's CPU time per call, Load ghz's (when measured).
	CPU, Load time.Duration
}

// runGhz runs ghz against addr; with a server pid, it also measures the
// CPU time per call of that process and of ghz.
func runGhz(ctx context.Context, o options, addr, method, data string, conns, rps int, d time.Duration, pid ...int) (ghzResult, error) {
	args := []string{"--insecure", "--call", method, "-d", data, "-c", strconv.Itoa(conns),
		"-z", d.String(), "--duration-stop", "wait", "--format", "json"}
	if strings.HasPrefix(method, "gatepost.") {
		args = append(args, "--metadata", `{"authorization":"Bearer `+benchKey+`"}`)
	}
	if rps > 0 {
		args = append(args, "--rps", strconv.Itoa(rps))
	}
	cmd := exec.CommandContext(ctx, o.ghz, append(args, addr)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var before time.Duration
	if len(pid) > 0 {
		before = cpuTime(pid[0])
	}
	out, err := cmd.Output()
	if err != nil {
		return ghzResult{}, fmt.Errorf("ghz %s: %w\n%s", method, err, stderr.String())
	}
	var rep struct {
		RPS         float64 `json:"rps"`
		LatencyDist []struct {
			Percentage int   `json:"percentage"`
			Latency    int64 `json:"latency"`
		} `json:"latencyDistribution"`
		StatusCodes map[string]int `json:"statusCodeDistribution"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return ghzResult{}, fmt.Errorf("ghz output: %w", err)
	}
	r := ghzResult{RPS: rep.RPS}
	for _, l := range rep.LatencyDist {
		switch l.Percentage {
		case 50:
			r.P50 = time.Duration(l.Latency)
		case 99:
			r.P99 = time.Duration(l.Latency)
		}
	}
	for code, n := range rep.StatusCodes {
		if code == "OK" {
			r.OK += n
		} else {
			r.Errors += n
		}
	}
	if calls := time.Duration(r.OK + r.Errors); len(pid) > 0 && calls > 0 {
		r.CPU = (cpuTime(pid[0]) - before) / calls
		r.Load = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()) / calls
	}
	return r, nil
}

// goBench is the median of one Go benchmark over several counts.
type goBench struct {
	Name        string
	NsPerOp     float64
	AllocsPerOp float64
	BytesPerOp  float64
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op\s+([0-9.]+) B/op\s+([0-9.]+) allocs/op`)

func goBenchmarks(ctx context.Context) ([]goBench, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^(BenchmarkSignPost|BenchmarkBarePresignPostObject|BenchmarkCreatePresignedPost)$",
		"-benchmem", "-count", "5", "./internal/s3store/", "./server/")
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	samples := map[string][][3]float64{}
	var order []string
	for _, line := range strings.Split(string(out), "\n") {
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var v [3]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(m[i+2], 64)
		}
		if _, ok := samples[m[1]]; !ok {
			order = append(order, m[1])
		}
		samples[m[1]] = append(samples[m[1]], v)
	}
	var res []goBench
	for _, name := range order {
		s := samples[name]
		col := func(i int) float64 {
			vals := make([]float64, len(s))
			for j := range s {
				vals[j] = s[j][i]
			}
			return median(vals)
		}
		res = append(res, goBench{Name: name, NsPerOp: col(0), BytesPerOp: col(1), AllocsPerOp: col(2)})
	}
	return res, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuTime returns the CPU time (user and system) a process has used, from
// /proc/PID/stat; 0 when it cannot be read. Linux counts it in ticks of
// USER_HZ, 100 a second on every architecture Go supports.
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis are state (3), ..., utime (14), stime (15).
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100)
}

func rssKiB(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
	}
	return -1
}

func machine() string {
	cpu := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(raw), "\n", 2)[0]); len(f) >= 2 {
			kb, _ := strconv.Atoi(f[1])
			mem = fmt.Sprintf(", %.0f GiB memory", float64(kb)/(1<<20))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d CPUs (%s)%s, Linux %s, %s; load generators on the same machine",
		runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.Version())
}
