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
// and prefix. Each key is four Redis keys: a sorted set of reservation ids
// by the time they were made, a hash of their bytes, a hash of the
// latest reservation id per object, and the running total; each operation
// is one script, on Redis's clock.
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
// window (made <= now - per) and returns the total; ids are
// object.."\0"..nonce, so the object's latest-id entry goes with them. It
// creates no key: with nothing left, the key's four Redis keys go.
var expireLua = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function expire(z, h, o, t, now, per)
  local total = tonumber(redis.call('GET', t) or '0')
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now - per, 'LIMIT', 0, ` + expireBatchLua + `)
  for _, id in ipairs(gone) do
    total = total - tonumber(redis.call('HGET', h, id) or '0')
    redis.call('HDEL', h, id)
    redis.call('ZREM', z, id)
    local object = string.match(id, '^(.*)%z')
    if object and redis.call('HGET', o, object) == id then redis.call('HDEL', o, object) end
  end
  if total < 0 then total = 0 end
  if redis.call('ZCARD', z) == 0 then
    redis.call('DEL', z, h, o, t)
    return 0
  end
  if #gone > 0 then redis.call('SET', t, total, 'KEEPTTL') end
  return total
end
local function set_bytes(h, t, id, n)
  local old = tonumber(redis.call('HGET', h, id) or '-1')
  if old < 0 then return 0 end
  redis.call('HSET', h, id, n)
  redis.call('SET', t, tonumber(redis.call('GET', t) or '0') + n - old, 'KEEPTTL')
  return 1
end
`

var expireBatchLua = fmt.Sprint(expireBatch)

var reserveScript = redis.NewScript(expireLua + `
local z, h, o, t = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, object = ARGV[1], ARGV[2]
local n, cap, per, most = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_ms()
local total = expire(z, h, o, t, now, per)
if n > cap then return {0, total, 0, 0} end
if redis.call('ZCARD', z) >= most then
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
redis.call('HSET', h, id, n)
redis.call('HSET', o, object, id)
total = total + n
redis.call('SET', t, total)
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, 2 * per) end
return {1, total, 0, 0}
`)

var setScript = redis.NewScript(expireLua + `
local z, h, o, t = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
expire(z, h, o, t, now_ms(), tonumber(ARGV[3]))
return set_bytes(h, t, ARGV[1], tonumber(ARGV[2]))
`)

var correctScript = redis.NewScript(expireLua + `
local z, h, o, t = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local object, n, made_by, per = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
expire(z, h, o, t, now_ms(), per)
local id = redis.call('HGET', o, object)
if not id then return 0 end
local made = tonumber(redis.call('ZSCORE', z, id) or '0')
if math.floor(made / 1000) > made_by then return 0 end
return set_bytes(h, t, id, n)
`)

var usageScript = redis.NewScript(expireLua + `
return expire(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now_ms(), tonumber(ARGV[1]))
`)

func (r *Redis) keys(key string) []string {
	base := r.prefix + key
	return []string{base + ":z", base + ":h", base + ":o", base + ":t"}
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
