// Package notify tells applications about verdicts: each one becomes a
// Standard Webhooks message (upload.verified, upload.rejected or
// upload.quarantined) queued for its profile's endpoint and delivered in
// the background, so a slow or failing receiver never slows presigning or
// verification.
//
// With Redis (WithRedis) each profile's queue is a Redis stream with a
// consumer group that every replica works from: a message is acknowledged
// only once it is delivered, refused or out of time, so one that a
// stopped replica was retrying is taken over by another (at least once).
// Without Redis, or while it cannot be reached, the queue is this
// process's memory: messages still queued or being retried when gatepost
// stops are lost.
package notify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/finalize"
	"github.com/gatepost/gatepost/internal/webhook"
)

// Event types.
const (
	EventVerified    = "upload.verified"
	EventRejected    = "upload.rejected"
	EventQuarantined = "upload.quarantined"
)

// queueLength bounds the messages waiting per profile; workers deliver
// them concurrently per profile.
const (
	queueLength = 10_000
	workers     = 4
)

// Payload is a message's data: the upload and its verdict.
type Payload struct {
	Subject        string            `json:"subject"`
	Profile        string            `json:"profile"`
	Bucket         string            `json:"bucket"`
	Key            string            `json:"key"`
	Size           int64             `json:"size"`
	DeclaredSize   *int64            `json:"declared_size,omitempty"`
	ETag           string            `json:"etag"`
	ContentType    string            `json:"content_type"`
	SniffedType    string            `json:"sniffed_type,omitempty"`
	ChecksumSHA256 string            `json:"checksum_sha256,omitempty"`
	Metadata       map[string]string `json:"metadata"`
	Reasons        []string          `json:"reasons"`
	QuarantineKey  string            `json:"quarantine_key,omitempty"`
	VerifiedAt     time.Time         `json:"verified_at"`
}

// Observer records what happens to messages (metrics); nil records
// nothing.
type Observer interface {
	// Delivered is a message's fate: "delivered", "refused", "failed"
	// (out of time or stopped) or "dropped" (the queue was full), and how
	// long from the verdict until then.
	Delivered(profile, outcome string, latency time.Duration)
	// QueueDepth is the number of messages waiting for a profile.
	QueueDepth(profile string, n int)
}

// Queue delivers messages to each profile's sender.
type Queue struct {
	senders  map[string]*webhook.Sender
	queues   map[string]chan webhook.Message
	streams  map[string]*redisQueue // nil without Redis
	logger   *slog.Logger
	observer Observer
	now      func() time.Time
}

// PoolSize is the Redis connections a Queue with n webhook profiles needs:
// one per worker, and some for acknowledgements and heartbeats.
func PoolSize(n int) int { return n*workers*2 + 4 }

// Option configures a Queue.
type Option func(*Queue)

// WithRedis keeps the queues in Redis streams named prefix+"webhooks:"+
// profile, shared by every replica. The client should be the queue's own
// (see PoolSize): its workers hold connections in blocking reads.
func WithRedis(client *redis.Client, prefix string, opts RedisOptions) Option {
	return func(q *Queue) {
		q.streams = map[string]*redisQueue{}
		for profile := range q.senders {
			q.streams[profile] = newRedisQueue(client, prefix, profile, opts)
		}
	}
}

// New returns a Queue for the profiles that have a webhook sender.
func New(senders map[string]*webhook.Sender, observer Observer, logger *slog.Logger, opts ...Option) *Queue {
	q := &Queue{senders: senders, queues: map[string]chan webhook.Message{}, logger: logger, observer: observer, now: time.Now}
	for profile := range senders {
		q.queues[profile] = make(chan webhook.Message, queueLength)
	}
	for _, o := range opts {
		o(q)
	}
	return q
}

// Event returns the event type of an outcome.
func Event(out *finalize.Outcome) string {
	switch {
	case out.Verified:
		return EventVerified
	case out.QuarantineKey != "":
		return EventQuarantined
	}
	return EventRejected
}

// PayloadOf returns the message data of an outcome.
func PayloadOf(out *finalize.Outcome) Payload {
	p := Payload{
		Subject: out.Subject, Profile: out.Profile, Bucket: out.Bucket, Key: out.Key, Size: out.Object.Size,
		ETag: out.Object.ETag, ContentType: out.Object.ContentType, SniffedType: out.Sniffed,
		ChecksumSHA256: out.Object.ChecksumSHA256, Metadata: out.Object.Metadata, Reasons: out.Reasons,
		QuarantineKey: out.QuarantineKey, VerifiedAt: out.At.UTC(),
	}
	if out.DeclaredSize >= 0 {
		p.DeclaredSize = &out.DeclaredSize
	}
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	if p.Reasons == nil {
		p.Reasons = []string{}
	}
	return p
}

// pushTimeout bounds adding a message to Redis.
const pushTimeout = time.Second

// Enqueue queues the message for an outcome, if its profile has a
// webhook: in Redis when configured and reachable, else in memory, where
// it never blocks (a full queue drops the message, logged).
func (q *Queue) Enqueue(ctx context.Context, out *finalize.Outcome) {
	ch, ok := q.queues[out.Profile]
	if !ok {
		return
	}
	m, err := webhook.NewMessage(Event(out), out.At, PayloadOf(out))
	if err != nil {
		q.logger.Error("a webhook message could not be made", "profile", out.Profile, "key", out.Key, "error", err)
		return
	}
	if rq := q.streams[out.Profile]; rq != nil {
		pctx, cancel := context.WithTimeout(ctx, pushTimeout)
		err := rq.push(pctx, m)
		cancel()
		if err == nil {
			return
		}
		q.logger.Warn("Redis is unreachable: a webhook message waits in this process's memory instead (lost if it stops)", "profile", out.Profile, "webhook_id", m.ID, "error", err)
	}
	select {
	case ch <- m:
		q.depth(out.Profile, len(ch))
	default:
		q.logger.Error("the webhook queue is full: a verdict was not sent", "profile", out.Profile, "key", out.Key, "webhook_id", m.ID)
		q.delivered(out.Profile, "dropped", m)
	}
}

// Run delivers queued messages until ctx ends.
func (q *Queue) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for profile, ch := range q.queues {
		sender, rq := q.senders[profile], q.streams[profile]
		for range workers {
			wg.Go(func() {
				if rq == nil {
					q.fromMemory(ctx, profile, sender, ch)
				} else {
					q.fromRedis(ctx, profile, sender, ch, rq)
				}
			})
		}
	}
	wg.Wait()
}

// fromMemory delivers the messages of one profile's memory queue.
func (q *Queue) fromMemory(ctx context.Context, profile string, sender *webhook.Sender, ch chan webhook.Message) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-ch:
			q.depth(profile, len(ch))
			q.deliver(ctx, profile, sender, m)
		}
	}
}

// fromRedis delivers one profile's messages from its stream, and those
// that waited in memory while Redis was unreachable.
func (q *Queue) fromRedis(ctx context.Context, profile string, sender *webhook.Sender, ch chan webhook.Message, rq *redisQueue) {
	for ctx.Err() == nil {
		select {
		case m := <-ch:
			q.deliver(ctx, profile, sender, m)
			continue
		default:
		}
		m, done, ok, err := rq.next(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			select {
			case <-ctx.Done():
			case <-time.After(retryRedis):
			}
		case ok:
			finished := q.deliver(ctx, profile, sender, m)
			done(finished)
			q.depth(profile, rq.depth(ctx))
		}
	}
}

// deliver sends one message and reports whether it is finished with
// (delivered, refused or out of time), rather than interrupted by
// gatepost stopping.
func (q *Queue) deliver(ctx context.Context, profile string, sender *webhook.Sender, m webhook.Message) bool {
	attempts, err := sender.Deliver(ctx, m)
	outcome := "delivered"
	switch {
	case err == nil:
	case ctx.Err() != nil:
		q.logger.Warn("gatepost stopped before a webhook was delivered", "profile", profile, "webhook_id", m.ID, "attempts", attempts)
		return false
	default:
		outcome = "failed"
		if errors.Is(err, webhook.ErrRefused) {
			outcome = "refused"
		}
		q.logger.Error("a webhook was not delivered", "profile", profile, "webhook_id", m.ID, "attempts", attempts, "error", err)
	}
	q.delivered(profile, outcome, m)
	return true
}

func (q *Queue) delivered(profile, outcome string, m webhook.Message) {
	if q.observer != nil {
		q.observer.Delivered(profile, outcome, q.now().Sub(m.Timestamp))
	}
}

func (q *Queue) depth(profile string, n int) {
	if q.observer != nil {
		q.observer.QueueDepth(profile, n)
	}
}
