package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis, shared by every replica using the same Redis
// and prefix. Each key is two Redis keys: a sorted set of reservation ids
// by the time they were made (they leave the window in that order), and a
// hash holding each reservation's bytes (field: the id), each object's
// latest reservation (field: NUL and the object) and the running total
// (field: totalField). Ids are the object, a NUL and a nonce; objects are
// a bucket, a slash and a key, never holding a NUL, so no field is ever
// two of these ("total" holds no slash). Each operation is one script, on Redis's clock.
//
// Redis runs every replica's scripts one at a time, so a script's cost is
// the deployment's: each does its work in as few Redis calls as it can
// (a reservation in the steady state of a busy key makes ten), measured by
// BenchmarkRedisReserve.
type Redis struct {
	client redis.Scripter
	prefix string
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store in client under keys that start with prefix.
func NewRedis(client redis.Scripter, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// expireLua drops up to expireBatch reservations that have left the
// window (made <= now - per) and returns the total and the number of
// reservations left. It creates no key: with nothing left, both go.
var expireLua = `
local total_field = '\0total'
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function expire(z, h, now, per)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now - per, 'LIMIT', 0, ` + expireBatchLua + `)
  if #gone == 0 then
    return tonumber(redis.call('HGET', h, total_field) or '0'), -1
  end
  local fields, objects = {total_field}, {}
  for i, id in ipairs(gone) do
    objects[i] = '\0' .. (string.match(id, '^(.*)%z') or '')
    fields[2 * i], fields[2 * i + 1] = id, objects[i]
  end
  local v = redis.call('HMGET', h, unpack(fields))
  local total, drop = tonumber(v[1] or '0'), {}
  for i, id in ipairs(gone) do
    total = total - tonumber(v[2 * i] or '0')
    drop[#drop + 1] = id
    if v[2 * i + 1] == id then drop[#drop + 1] = objects[i] end
  end
  local left = redis.call('ZCARD', z) - #gone
  if left <= 0 then
    redis.call('DEL', z, h)
    return 0, 0
  end
  redis.call('ZREM', z, unpack(gone))
  if total < 0 then total = 0 end
  redis.call('HDEL', h, unpack(drop))
  redis.call('HSET', h, total_field, total)
  return total, left
end
local function count(z, left)
  if left >= 0 then return left end
  return redis.call('ZCARD', z)
end
local function set_bytes(h, total, id, n)
  local old = tonumber(redis.call('HGET', h, id) or '-1')
  if old < 0 then return 0 end
  redis.call('HSET', h, id, n, total_field, total + n - old)
  return 1
end
`

var expireBatchLua = fmt.Sprint(expireBatch)

var reserveScript = redis.NewScript(expireLua + `
local z, h = KEYS[1], KEYS[2]
local id, object = ARGV[1], ARGV[2]
local n, cap, per, most = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_ms()
local total, left = expire(z, h, now, per)
if n > cap then return {0, total, 0, 0} end
if count(z, left) >= most then
  local oldest = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
  return {0, total, tonumber(oldest[2]) + per - now, 1}
end
if total + n > cap then
  local need, freed, retry = total + n - cap, 0, per
  local oldest = redis.call('ZRANGE', z, 0, 9999, 'WITHSCORES')
  for i = 1, #oldest, 2 do
    freed = freed + tonumber(redis.call('HGET', h, oldest[i]) or '0')
    if freed >= need then retry = tonumber(oldest[i + 1]) + per - now; break end
  end
  return {0, total, retry, 0}
end
redis.call('ZADD', z, now, id)
total = total + n
redis.call('HSET', h, id, n, '\0' .. object, id, total_field, total)
redis.call('PEXPIRE', z, 2 * per)
redis.call('PEXPIRE', h, 2 * per)
return {1, total, 0, 0}
`)

var setScript = redis.NewScript(expireLua + `
local z, h = KEYS[1], KEYS[2]
local total = expire(z, h, now_ms(), tonumber(ARGV[3]))
return set_bytes(h, total, ARGV[1], tonumber(ARGV[2]))
`)

var correctScript = redis.NewScript(expireLua + `
local z, h = KEYS[1], KEYS[2]
local object, n, made_by, per = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local total = expire(z, h, now_ms(), per)
local id = redis.call('HGET', h, '\0' .. object)
if not id then return 0 end
local made = tonumber(redis.call('ZSCORE', z, id) or '0')
if math.floor(made / 1000) > made_by then return 0 end
return set_bytes(h, total, id, n)
`)

var usageScript = redis.NewScript(expireLua + `
local total = expire(KEYS[1], KEYS[2], now_ms(), tonumber(ARGV[1]))
return total
`)

func (r *Redis) keys(key string) []string {
	base := r.prefix + key
	return []string{base + ":made", base + ":state"}
}

// Reserve implements Store.
func (r *Redis) Reserve(ctx context.Context, key, object string, n int64, l Limit) (Result, error) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	id := object + "\x00" + hex.EncodeToString(nonce)
	v, err := reserveScript.Run(ctx, r.client, r.keys(key), id, object, n, l.Bytes, l.Per.Milliseconds(), MaxReservations).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	res := Result{OK: v[0] == 1, Used: v[1], RetryAfter: time.Duration(v[2]) * time.Millisecond, Full: v[3] == 1}
	if res.OK {
		res.ID = id
	}
	return res, nil
}

// Set implements Store.
func (r *Redis) Set(ctx context.Context, key, id string, n int64, l Limit) error {
	if err := setScript.Run(ctx, r.client, r.keys(key), id, n, l.Per.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Correct implements Store.
func (r *Redis) Correct(ctx context.Context, key, object string, n int64, madeBy time.Time, l Limit) error {
	if err := correctScript.Run(ctx, r.client, r.keys(key), object, n, madeBy.Unix(), l.Per.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Usage implements Store.
func (r *Redis) Usage(ctx context.Context, key string, l Limit) (int64, error) {
	used, err := usageScript.Run(ctx, r.client, r.keys(key), l.Per.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return used, nil
}
