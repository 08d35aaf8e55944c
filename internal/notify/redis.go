package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/webhook"
)

// The Redis queue is written here on go-redis's stream commands: the
// libraries that run queues on Redis streams (watermill's redisstream) or
// on lists (asynq) are not among the modules this project may use, and
// what is needed is small: XADD, a consumer group, XAUTOCLAIM for what a
// stopped replica left, and a heartbeat while a delivery is retried.

// Redis stream settings.
const (
	streamGroup = "gatepost"
	// streamMaxLen trims each profile's stream (approximately): a message
	// is deleted once delivered, so only a receiver down for very long
	// fills it.
	streamMaxLen = 100_000
	// readBlock is how long a worker waits for a new message at a time.
	readBlock = time.Second
	// retryRedis is the wait after Redis failed to answer a worker.
	retryRedis = time.Second
)

// RedisOptions tune the Redis queue (tests shorten them).
type RedisOptions struct {
	// ClaimIdle is how long a message may go without its consumer's
	// heartbeat before another replica takes it over (default 2 min).
	ClaimIdle time.Duration
	// Heartbeat is how often a consumer renews the messages it is
	// delivering (default ClaimIdle/4).
	Heartbeat time.Duration
}

// redisQueue is one profile's stream.
type redisQueue struct {
	client   *redis.Client
	stream   string
	consumer string
	opts     RedisOptions

	// cursor is where the next XAUTOCLAIM looks on (each call looks at a
	// bounded number of pending entries).
	mu     sync.Mutex
	cursor string
}

func newRedisQueue(client *redis.Client, prefix, profile string, opts RedisOptions) *redisQueue {
	if opts.ClaimIdle <= 0 {
		opts.ClaimIdle = 2 * time.Minute
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = opts.ClaimIdle / 4
	}
	host, _ := os.Hostname()
	return &redisQueue{
		client: client, stream: prefix + "webhooks:" + profile, opts: opts,
		consumer: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano()),
	}
}

func (q *redisQueue) push(ctx context.Context, m webhook.Message) error {
	return q.client.XAdd(ctx, &redis.XAddArgs{
		Stream: q.stream, MaxLen: streamMaxLen, Approx: true,
		Values: map[string]any{"id": m.ID, "ts": strconv.FormatInt(m.Timestamp.UnixNano(), 10), "body": m.Body},
	}).Err()
}

// ensureGroup creates the stream's consumer group (and the stream) once.
func (q *redisQueue) ensureGroup(ctx context.Context) error {
	err := q.client.XGroupCreateMkStream(ctx, q.stream, streamGroup, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// next returns the next message to deliver: first one a stopped consumer
// left (idle past ClaimIdle), else a new one, waiting up to readBlock.
// done(true) acknowledges and deletes it; done(false) leaves it for
// another consumer (gatepost is stopping). Until then a heartbeat keeps it
// this consumer's.
func (q *redisQueue) next(ctx context.Context) (webhook.Message, func(ack bool), bool, error) {
	q.mu.Lock()
	start := q.cursor
	q.mu.Unlock()
	if start == "" {
		start = "0-0"
	}
	claimed, cursor, err := q.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: q.stream, Group: streamGroup, Consumer: q.consumer, MinIdle: q.opts.ClaimIdle, Start: start, Count: 1,
	}).Result()
	if err == nil {
		q.mu.Lock()
		q.cursor = cursor // "0-0" again once it has gone round
		q.mu.Unlock()
	}
	if isNoGroup(err) {
		if err = q.ensureGroup(ctx); err == nil {
			return webhook.Message{}, nil, false, nil
		}
	}
	if err != nil {
		return webhook.Message{}, nil, false, err
	}
	if len(claimed) == 0 {
		streams, err := q.client.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: streamGroup, Consumer: q.consumer, Streams: []string{q.stream, ">"}, Count: 1, Block: readBlock,
		}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			return webhook.Message{}, nil, false, nil
		case isNoGroup(err):
			return webhook.Message{}, nil, false, q.ensureGroup(ctx)
		case err != nil:
			return webhook.Message{}, nil, false, err
		}
		for _, s := range streams {
			claimed = append(claimed, s.Messages...)
		}
	}
	if len(claimed) == 0 {
		return webhook.Message{}, nil, false, nil
	}
	entry := claimed[0]
	m, ok := decodeEntry(entry)
	if !ok {
		// Not a message this version of gatepost wrote: drop it.
		q.finish(context.WithoutCancel(ctx), entry.ID)
		return webhook.Message{}, nil, false, nil
	}
	beat, stop := context.WithCancel(context.WithoutCancel(ctx))
	go q.heartbeat(beat, entry.ID)
	done := func(ack bool) {
		stop()
		if ack {
			q.finish(context.WithoutCancel(ctx), entry.ID)
		}
	}
	return m, done, true, nil
}

// heartbeat claims entry for this consumer again every Heartbeat, which
// resets its idle time, so that no other replica takes over a message
// this one is still retrying.
func (q *redisQueue) heartbeat(ctx context.Context, id string) {
	t := time.NewTicker(q.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = q.client.XClaimJustID(ctx, &redis.XClaimArgs{
				Stream: q.stream, Group: streamGroup, Consumer: q.consumer, MinIdle: 0, Messages: []string{id},
			}).Err()
		}
	}
}

// finish acknowledges and deletes a handled entry.
func (q *redisQueue) finish(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pipe := q.client.TxPipeline()
	pipe.XAck(ctx, q.stream, streamGroup, id)
	pipe.XDel(ctx, q.stream, id)
	_, _ = pipe.Exec(ctx)
}

// depth is the number of entries in the stream (waiting or being
// delivered).
func (q *redisQueue) depth(ctx context.Context) int {
	n, err := q.client.XLen(ctx, q.stream).Result()
	if err != nil {
		return -1
	}
	return int(n)
}

func decodeEntry(e redis.XMessage) (webhook.Message, bool) {
	id, _ := e.Values["id"].(string)
	ts, _ := e.Values["ts"].(string)
	body, _ := e.Values["body"].(string)
	nanos, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || body == "" || err != nil {
		return webhook.Message{}, false
	}
	return webhook.Message{ID: id, Timestamp: time.Unix(0, nanos), Body: []byte(body)}, true
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }
