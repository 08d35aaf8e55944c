package main

import (
	"fmt"
	"strings"
	"time"
)

// report is everything one `make bench` measured.
type report struct {
	Options                                 options
	Machine                                 string
	GoBench                                 []goBench
	RESTGatepost, RESTBaseline, RESTHealthz []wrkResult
	RESTRedis                               []wrkResult
	GRPCPresign, GRPCHealth                 []ghzResult
	Soak                                    struct {
		Duration               time.Duration
		RPS                    int
		Result                 ghzResult
		RSSStartKiB, RSSEndKiB int
	}
}

// med returns the medians of a series of runs.
func medWrk(rs []wrkResult) wrkResult {
	var rps, p50, p99, load []float64
	var cpu [][]float64
	errs := 0
	for _, r := range rs {
		rps, p50, p99 = append(rps, r.RPS), append(p50, float64(r.P50)), append(p99, float64(r.P99))
		load = append(load, float64(r.Load))
		for i, c := range r.CPU {
			if i == len(cpu) {
				cpu = append(cpu, nil)
			}
			cpu[i] = append(cpu[i], float64(c))
		}
		errs += r.Errors
	}
	m := wrkResult{RPS: median(rps), P50: time.Duration(median(p50)), P99: time.Duration(median(p99)), Errors: errs, Load: time.Duration(median(load))}
	for _, c := range cpu {
		m.CPU = append(m.CPU, time.Duration(median(c)))
	}
	return m
}

// pairedRatio is the median over runs of a's requests/s over b's in the
// same run: the runs alternate between the loads, so a machine that is
// faster in one run than in another moves both.
func pairedRatio(a, b []wrkResult) float64 {
	var ratios []float64
	for i := range min(len(a), len(b)) {
		if b[i].RPS > 0 {
			ratios = append(ratios, a[i].RPS/b[i].RPS)
		}
	}
	return median(ratios)
}

// cpuCell writes a load's CPU time per request: the server's, Redis's
// when measured, and wrk's.
func cpuCell(m wrkResult) string {
	if len(m.CPU) == 0 {
		return "–"
	}
	var parts []string
	for _, c := range m.CPU {
		parts = append(parts, fmt.Sprintf("%.0f", float64(c)/float64(time.Microsecond)))
	}
	return strings.Join(parts, " + ") + fmt.Sprintf(" (wrk %.0f)", float64(m.Load)/float64(time.Microsecond))
}

func medGhz(rs []ghzResult) ghzResult {
	var rps, p50, p99, cpu, load []float64
	var ok, errs int
	for _, r := range rs {
		rps, p50, p99 = append(rps, r.RPS), append(p50, float64(r.P50)), append(p99, float64(r.P99))
		cpu, load = append(cpu, float64(r.CPU)), append(load, float64(r.Load))
		ok += r.OK
		errs += r.Errors
	}
	return ghzResult{RPS: median(rps), P50: time.Duration(median(p50)), P99: time.Duration(median(p99)), OK: ok, Errors: errs,
		CPU: time.Duration(median(cpu)), Load: time.Duration(median(load))}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

// targets evaluates the targets.
func (r *report) targets() []string {
	g, b, rd := medWrk(r.RESTGatepost), medWrk(r.RESTBaseline), medWrk(r.RESTRedis)
	gp, gh := medGhz(r.GRPCPresign), medGhz(r.GRPCHealth)
	redisRatio := pairedRatio(r.RESTRedis, r.RESTGatepost)
	var ours, bare float64
	for _, x := range r.GoBench {
		switch x.Name {
		case "BenchmarkCreatePresignedPost":
			ours = x.NsPerOp
		case "BenchmarkBarePresignPostObject":
			bare = x.NsPerOp
		}
	}
	out := []string{
		fmt.Sprintf("| REST presign ≥ 80%% of the bare baseline | %.0f%% (%.0f vs %.0f requests/s) | %s |",
			100*g.RPS/b.RPS, g.RPS, b.RPS, verdict(g.RPS >= 0.8*b.RPS)),
		fmt.Sprintf("| REST presign p99 < 10 ms (64 connections) | %s | %s |", ms(g.P99), verdict(g.P99 < 10*time.Millisecond)),
		fmt.Sprintf("| REST presign with limits and quota in Redis ≥ 80%% of in-memory | %.0f%% (median of the runs' ratios; medians %.0f vs %.0f requests/s; p99 %s) | %s |",
			100*redisRatio, rd.RPS, g.RPS, ms(rd.P99), verdict(redisRatio >= 0.8)),
		fmt.Sprintf("| gRPC presign ≥ 70%% of the health-check floor | %.0f%% (%.0f vs %.0f requests/s) | %s |",
			100*gp.RPS/gh.RPS, gp.RPS, gh.RPS, verdict(gp.RPS >= 0.7*gh.RPS)),
		fmt.Sprintf("| the service's presign path no slower than the SDK's bare PresignPostObject | %.1f µs vs %.1f µs | %s |",
			ours/1000, bare/1000, verdict(ours > 0 && ours <= bare)),
	}
	if r.Soak.Duration > 0 {
		s := r.Soak
		growth := float64(s.RSSEndKiB-s.RSSStartKiB) / float64(max(1, s.RSSStartKiB))
		out = append(out, fmt.Sprintf("| soak: %s at %d/s with zero errors and flat memory | %d errors; RSS %.1f → %.1f MiB (%+.0f%%) | %s |",
			s.Duration, s.RPS, s.Result.Errors, float64(s.RSSStartKiB)/1024, float64(s.RSSEndKiB)/1024, 100*growth,
			verdict(s.Result.Errors == 0 && growth < 0.25)))
	}
	return out
}

func (r *report) summary() string {
	return "| target | measured | |\n|---|---|---|\n" + strings.Join(r.targets(), "\n") + "\n"
}

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# gatepost benchmarks\n\n")
	w("Written by `make bench` (`bench/run`) on %s. Machine: %s.\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), r.Machine)
	w("Load tests: %d runs of %s each, %d connections; the tables show medians. Re-run `make bench` to measure your machine.\n\n",
		r.Options.runs, r.Options.duration, r.Options.connections)
	w("## Targets\n\n| target | measured | |\n|---|---|---|\n%s\n\n", strings.Join(r.targets(), "\n"))
	b.WriteString(whyNotMet)

	w("## Presign path (go test -bench, median of 5)\n\n| benchmark | time/op | allocs/op | bytes/op |\n|---|---|---|---|\n")
	for _, x := range r.GoBench {
		w("| `%s` | %.1f µs | %.0f | %.0f |\n", x.Name, x.NsPerOp/1000, x.AllocsPerOp, x.BytesPerOp)
	}
	w("\n`BenchmarkCreatePresignedPost` is the whole service method (validation, policy, signing) without transport; `BenchmarkSignPost` is gatepost's signer; `BenchmarkBarePresignPostObject` is the AWS SDK's `PresignPostObject` alone.\n\n")

	w("## REST (wrk)\n\n| endpoint | requests/s | p50 | p99 | errors | CPU µs per request |\n|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		rs   []wrkResult
	}{
		{"gatepost `GET /v1/presign` (API key, validation, metrics, logging, rate limit and byte quota in memory)", r.RESTGatepost},
		{"the same, rate limit and byte quota in Redis (redis-server on the same machine)", r.RESTRedis},
		{"bare baseline `GET /presign` (net/http + PresignPostObject, nothing else)", r.RESTBaseline},
		{"gatepost `GET /healthz`", r.RESTHealthz},
	} {
		m := medWrk(row.rs)
		w("| %s | %.0f | %s | %s | %d | %s |\n", row.name, m.RPS, ms(m.P50), ms(m.P99), m.Errors, cpuCell(m))
	}
	w("\nCPU per request is what each process used during the run (from /proc) over the requests served: the server (gatepost or the baseline), then redis-server where it takes part; wrk's own in brackets. It is steadier across runs than requests/s, which moves with whatever else the machine runs.\n")
	w("\n## gRPC (ghz)\n\n| call | requests/s | p50 | p99 | errors | CPU µs per call: gatepost (ghz) |\n|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		rs   []ghzResult
	}{
		{"`gatepost.v1.UploadService/CreatePresignedPost`", r.GRPCPresign},
		{"`grpc.health.v1.Health/Check` (transport floor)", r.GRPCHealth},
	} {
		m := medGhz(row.rs)
		w("| %s | %.0f | %s | %s | %d | %.0f (%.0f) |\n", row.name, m.RPS, ms(m.P50), ms(m.P99), m.Errors,
			float64(m.CPU)/float64(time.Microsecond), float64(m.Load)/float64(time.Microsecond))
	}
	if r.Soak.Duration > 0 {
		s := r.Soak
		w("\n## Soak\n\n%s of `CreatePresignedPost` at a steady %d requests/s (ghz, 16 connections): %d OK, %d errors, p99 %s; RSS %d KiB at the start, %d KiB at the end.\n",
			s.Duration, s.RPS, s.Result.OK, s.Result.Errors, ms(s.Result.P99), s.RSSStartKiB, s.RSSEndKiB)
	}
	b.WriteString(history)
	return b.String()
}

// whyNotMet explains the targets this machine class does not meet.
const whyNotMet = `**Why some targets are not met here.**
*REST p99 under 10 ms at 64 connections*: at saturation the p99 is queueing, not work. With 64
connections and two cores shared with wrk, every server measured here has a p99 far above 10 ms, the
bare baseline included (see the REST table); below saturation it is low (the soak at 2,000 requests/s
has a p99 of a few milliseconds). Meeting it at saturation would need the load generator on another
machine, which this workplace does not have.
*gRPC at 70% of the health-check floor*: ghz shares the two cores with gatepost, and a presign costs
ghz itself far more than a health check: on 2026-12-03, about 70 µs of ghz's CPU per presign against
about 40 per health check (the gRPC table's last column), because ghz decodes every response into a dynamic message
(jhump/protoreflect: 38% of ghz's CPU in a perf profile during the presign load), and a presign's
response is a URL and a signed policy while a health check's is one enum. So even a presign that cost
gatepost no more than a health check (about 40 µs) would reach only (40 + 40) / (40 + 70), about 73% of
the floor; at gatepost's 70 to 77 µs per presign it is 56% to 58%. A health check does no work; a presign
authenticates, validates, signs, writes an audit line and a request line and records metrics. Steps
that lowered gatepost's own cost are in "What moved the numbers"; the rest of a presign's profile is
spread over HTTP/2, protobuf, the two log lines, signing and the garbage collector, none above a tenth.
*REST with limits and a quota in Redis at 80% of in-memory*: both runs have the same rate limit and
byte quota, in gatepost's memory or in Redis (redis-server on the same two cores as gatepost and wrk).
A presign makes one Redis call: redis_rate's GCRA script (vendored unchanged) and the quota
reservation run as one script (since 2026-12-03: about 60% to 68-70%), and since 2026-12-08 a
reservation that fits drops the reservations that have left the window only a sixteenth of a window at
a time (five Redis calls instead of eight). What is left, measured on 2026-12-08 on a machine about 1.6
times slower than the tables' earlier runs: Redis spends 45 to 60 µs of its CPU per presign under the
load, and the one round trip itself is most of the budget. A measurement build whose script only
answers (no Redis work at all) still cost Redis 17 to 22 µs per presign and gatepost 20 to 45 µs more
than the in-memory run, and reached only 76% to 80% of it: an EVALSHA with 13 arguments costs Redis
about 3.4 µs on an idle machine before its first call (each call then about 1 µs plus the command), and
go-redis's autopipeliner and the waits cost gatepost the rest. Inside the script, recording the
reservation is the largest part (redis-benchmark, idle, per reservation: the GCRA charge about 4.5 µs,
the reservation 18 to 22 µs, of which a new hash field and a new sorted-set member for the credential
about 8 µs). The reservation is kept per credential so that it can be corrected to the real size and
leave the window on time. Tried on 2026-12-08 and not kept: the charged reservations of concurrent
presigns in one script (about 8 per EVALSHA under the load): Redis's CPU per presign did not fall
(53 against 46 to 52 µs), as under the load it is the reservations' own work, not the script's fixed
cost. What might narrow the gap, not done: counting a window in time slots instead of per
credential (no new hash field and sorted-set member per credential, but a credential's bytes then
leave with its slot, and corrections need another way to find them), or counting in each replica
between syncs, which loosens the shared burst and quota; both are the product owner's call, and as a
script that does nothing reached only 76% to 80% here, the target itself may need Redis on cores of
its own. Tried and measured here before (REST, 64 connections, 256
subjects): the autopipeliner took it from about 35% to about 55% (a plain connection pool was slower);
the invalid-request throttle charges only failures; running the rate charge beside validation, the
autopipeliner's flush delay, full duplex or unordered batches gained nothing measurable, and
GOMAXPROCS 1 or 4 was slower. ghz 0.120 (instead of 0.93) was tried for the gRPC target and not kept: it needs about
twice the CPU per call (218 µs per presign, 179 per health check here), so it "met" 70% only by
throttling both loads.

`

// history records what profiling found and what moved the numbers.
const history = `
## What moved the numbers

Measured with wrk at 64 connections on this 2-core machine class, gatepost and wrk sharing the cores;
pprof CPU profiles from ` + "`metrics.pprof`" + ` on the admin listener guided each step.

| step | REST presign requests/s | what the profile showed |
|---|---|---|
| first version: SDK ` + "`PresignPostObject`" + `, REST through a loopback gRPC connection | ~6,000 | the SDK's middleware stack (~28% of CPU, ~400 allocations per call) and goroutine stack growth under it |
| sign POST policies directly, kSigning cached per day (bucket URLs still from the SDK) | ~7,700 | signing fell from ~45 µs to ~8.5 µs; the loopback gRPC hop (server, client, syscalls) was now the largest cost |
| REST calls the service in-process through the same interceptor chain | ~9,800 | log writes (one write syscall per line, two lines per request) and no-op tracing wrappers |
| buffered log writes; no tracing instrumentation when tracing is off | ~14,200 | encoding/json building the policy (~10% of gRPC CPU), stack growth of fresh gRPC stream goroutines |
| policy JSON without reflection; gRPC stream worker pool | ~15,200 | on gRPC, logging was about 30% of the server's CPU: the audit line's boxed attributes, the request line's constant fields |
| audit lines with typed slog attributes, fewer constant fields in request logs, pooled randomness for request ids | ~10,500 to ~15,500 (runs on different days) | HTTP/2 and HTTP parsing, grpc-gateway, protobuf and JSON encoding, the two log lines, metrics; on gRPC, the garbage collector and stack regrowth after each cycle (about a tenth of the CPU each) on a live heap of a few MiB |
| GC target 400 unless GOGC is set | see the tables above | gRPC presign about 7,200 → 9,500 requests/s in the same session |
| 32 gRPC stream workers per core instead of one (gRPC hands a call to a worker only when one is idle) | unchanged (REST does not use them) | on gRPC, most calls had still started a goroutine and grown its stack (` + "`runtime.newstack`" + ` about 11% of a presign profile, about 1% after); gatepost's CPU per gRPC presign 69 → 62 µs and per health check 40 → 36 µs (medians of 3 alternating runs), requests/s +3% |
| one metadata lookup per key a call reads (` + "`metadata.ValueFromIncomingContext`" + `) instead of copying all the metadata three times | within the noise | on gRPC, ` + "`metadata.FromIncomingContext`" + ` was about 4% of a presign's CPU |
| Redis: the rate charge and the quota reservation in one script; the reservation in eight Redis calls instead of twelve | Redis run about 60% → 68% to 70% of in-memory (paired runs) | two EVALSHAs per presign, each with its client-side round trip through the autopipeliner; Redis's time per reservation, alone, about 17.9 → 15.1 µs |
| API keys found by their hash in a map instead of compared with every configured hash in constant time | not measured apart (in the 2026-12-08 tables) | with the bench's 257 keys the comparisons were about 6% of a presign's CPU |
| Redis: reservations that have left the window dropped a sixteenth of a window at a time (a reservation that fits: five Redis calls instead of eight) | within the noise of paired runs on 2026-12-08 (a slower, noisier machine) | Redis's time per charged reservation in ` + "`BenchmarkRedisReserve`" + ` about 55 → 47 µs on that machine (median of 3 alternating runs); perf on redis-server under the load: key and field lookups, sorted-set inserts and number formatting, no single part above 7% |

The gRPC figures depend much on ghz, which needs more CPU per request than gatepost and shares the two
cores with it: repeated runs of the same build vary by ±15%.

The p99 latency target (10 ms at 64 connections) is about queueing, not work: with 64 connections and
two cores shared with the load generator, every server here, the bare baseline included, has a p99 above
10 ms at saturation; at a steady load well below saturation (the soak) p99 stays low.
`
