package quota

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatepost/gatepost/internal/ratelimit/gcra"
)

// Redis is a Store in Redis, shared by every replica using the same Redis
// and prefix. Each key is two Redis keys: a sorted set of reservation ids
// by the time they were made (they leave the window in that order), and a
// hash holding each reservation's bytes (field: the id), each object's
// latest reservation (field: NUL and the object), the running total
// (field: NUL "total"), when the two keys expire (field: NUL "ttl") and
// when reservations that left the window are next dropped (field: NUL
// "sweep").
// Ids are the object, a NUL and a nonce; objects are a bucket, a slash and
// a key, never holding a NUL, so no field is ever two of these ("total",
// "ttl" and "sweep" hold no slash). Each operation is one script, on
// Redis's clock.
//
// Redis runs every replica's scripts one at a time, so a script's cost is
// the deployment's: each does its work in as few Redis calls as it can
// (a reservation that fits makes five), measured by
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
// window (made <= now - per) and returns the total, the number of
// reservations left (-1: not counted), when the keys expire (ttl_field;
// 0 when unknown), whether the total changed and whether it dropped a
// whole batch (more may have left). A changed total is not
// written here: the caller writes it with what it writes anyway, or with
// write_total, one HSET instead of two. It creates no key: with nothing
// left, both go. expire_all drops every reservation that has left, batch
// after batch, for an exact total.
var expireLua = `
local total_field, ttl_field = '\0total', '\0ttl'
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function expire(z, h, now, per)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now - per, 'LIMIT', 0, ` + expireBatchLua + `)
  if #gone == 0 then
    local v = redis.call('HMGET', h, total_field, ttl_field)
    return tonumber(v[1] or '0'), -1, tonumber(v[2] or '0'), false, false
  end
  local fields, objects = {total_field, ttl_field}, {}
  for i, id in ipairs(gone) do
    objects[i] = '\0' .. (string.match(id, '^(.*)%z') or '')
    fields[2 * i + 1], fields[2 * i + 2] = id, objects[i]
  end
  local v = redis.call('HMGET', h, unpack(fields))
  local total, drop = tonumber(v[1] or '0'), {}
  for i, id in ipairs(gone) do
    total = total - tonumber(v[2 * i + 1] or '0')
    drop[#drop + 1] = id
    if v[2 * i + 2] == id then drop[#drop + 1] = objects[i] end
  end
  local left = redis.call('ZCARD', z) - #gone
  if left <= 0 then
    redis.call('DEL', z, h)
    return 0, 0, 0, false, false
  end
  redis.call('ZREM', z, unpack(gone))
  if total < 0 then total = 0 end
  redis.call('HDEL', h, unpack(drop))
  return total, left, tonumber(v[2] or '0'), true, #gone == ` + expireBatchLua + `
end
local function count(z, left)
  if left >= 0 then return left end
  return redis.call('ZCARD', z)
end
local function write_total(h, total, changed)
  if changed then redis.call('HSET', h, total_field, total) end
end
local function expire_all(z, h, now, per)
  local total, left, ttl, changed, more = expire(z, h, now, per)
  while more do
    write_total(h, total, changed)
    total, left, ttl, changed, more = expire(z, h, now, per)
  end
  return total, left, ttl, changed
end
local function set_bytes(h, total, changed, id, n)
  local old = tonumber(redis.call('HGET', h, id) or '-1')
  if old < 0 then
    write_total(h, total, changed)
    return 0
  end
  redis.call('HSET', h, id, n, total_field, total + n - old)
  return 1
end
`

var expireBatchLua = fmt.Sprint(expireBatch)

// reserveScript makes a reservation. The keys live 2*per from when their
// expiry was last set; it is set again (two PEXPIREs) only when fewer than
// per would be left, or when the sorted set is new (the hash may have
// outlived it, evicted alone), so a reservation always outlives its window
// while a busy key pays for it about once a window instead of on every
// call.
//
// Reservations that have left the window are dropped now and then, not on
// every call: the total that counts them too is more than the window
// holds, so a reservation that fits under it fits under the quota, and
// only a reservation it would refuse (or a key holding MaxReservations)
// needs the exact total. A reservation that fits is made in five Redis
// calls (TIME, HMGET, ZCARD, ZADD, HSET); the sweep, which makes the total
// exact (every reservation that has left, batch after batch), runs before
// any refusal, and otherwise once past the time written in the hash
// (field: NUL "sweep"), a sixteenth of the window after the last sweep (or
// at once, when that is further off than a sixteenth of the window as
// configured now).
var reserveScript = redis.NewScript(expireLua + reserveLua)

// reserveLua is the body of a reservation, for reserveScript and
// chargedReserveScript: KEYS[1] and KEYS[2] are the key's sorted set and
// hash, ARGV[1..6] the id, the object, the bytes, the quota, its window
// in milliseconds and MaxReservations.
var reserveLua = `
local z, h = KEYS[1], KEYS[2]
local id, object = ARGV[1], ARGV[2]
local n, cap, per, most = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local sweep_field = '\0sweep'
local now = now_ms()
local v = redis.call('HMGET', h, total_field, ttl_field, sweep_field)
local total, ttl, sweep = tonumber(v[1] or '0'), tonumber(v[2] or '0'), tonumber(v[3] or '0')
local held = redis.call('ZCARD', z)
local every, next_sweep = math.floor(per / 16), nil
if now >= sweep or sweep - now > every or held >= most or total + n > cap then
  local left, changed
  total, left, ttl, changed = expire_all(z, h, now, per)
  held = count(z, left)
  next_sweep = now + every
  if n > cap or held >= most or total + n > cap then
    if changed then redis.call('HSET', h, total_field, total, sweep_field, next_sweep) end
    if n > cap then return {0, total, 0, 0} end
    if held >= most then
      local oldest = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
      return {0, total, tonumber(oldest[2]) + per - now, 1}
    end
    local need, freed, retry = total + n - cap, 0, per
    local oldest = redis.call('ZRANGE', z, 0, 9999, 'WITHSCORES')
    for i = 1, #oldest, 2 do
      freed = freed + tonumber(redis.call('HGET', h, oldest[i]) or '0')
      if freed >= need then retry = tonumber(oldest[i + 1]) + per - now; break end
    end
    return {0, total, retry, 0}
  end
end
redis.call('ZADD', z, now, id)
total = total + n
local fields = {id, n, '\0' .. object, id, total_field, total}
if next_sweep then
  fields[#fields + 1], fields[#fields + 2] = sweep_field, next_sweep
end
if ttl < now + per or held == 0 then
  fields[#fields + 1], fields[#fields + 2] = ttl_field, now + 2 * per
  redis.call('HSET', h, unpack(fields))
  redis.call('PEXPIRE', z, 2 * per)
  redis.call('PEXPIRE', h, 2 * per)
else
  redis.call('HSET', h, unpack(fields))
end
return {1, total, 0, 0}
`

// chargedReserveScript is reserveScript after a rate limit's GCRA charge
// (redis_rate's own script, see internal/ratelimit/gcra), in one script:
// KEYS[3] is the bucket, ARGV[7..10] its arguments. A refused charge
// reserves nothing and answers a fifth value, 1.
var chargedReserveScript = redis.NewScript("local function gcra(KEYS, ARGV)\n" + gcra.Script + "\nend\n" + expireLua + `
local rate = gcra({KEYS[3]}, {ARGV[7], ARGV[8], ARGV[9], ARGV[10]})
if rate[1] == 0 then
  return {0, 0, math.ceil(tonumber(rate[3]) * 1000), 0, 1}
end
` + reserveLua)

var setScript = redis.NewScript(expireLua + `
local z, h = KEYS[1], KEYS[2]
local total, _, _, changed = expire(z, h, now_ms(), tonumber(ARGV[3]))
return set_bytes(h, total, changed, ARGV[1], tonumber(ARGV[2]))
`)

var correctScript = redis.NewScript(expireLua + `
local z, h = KEYS[1], KEYS[2]
local object, n, made_by, per = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local total, _, _, changed = expire(z, h, now_ms(), per)
local id = redis.call('HGET', h, '\0' .. object)
if not id then
  write_total(h, total, changed)
  return 0
end
local made = tonumber(redis.call('ZSCORE', z, id) or '0')
if math.floor(made / 1000) > made_by then
  write_total(h, total, changed)
  return 0
end
return set_bytes(h, total, changed, id, n)
`)

var usageScript = redis.NewScript(expireLua + `
local total, _, _, changed = expire_all(KEYS[1], KEYS[2], now_ms(), tonumber(ARGV[1]))
write_total(KEYS[2], total, changed)
return total
`)

func (r *Redis) keys(key string) []string {
	base := r.prefix + key
	return []string{base + ":made", base + ":state"}
}

// Reserve implements Store.
func (r *Redis) Reserve(ctx context.Context, key, object string, n int64, l Limit) (Result, error) {
	return r.reserve(ctx, reserveScript, r.keys(key), object, n, l)
}

// ReserveCharged is Reserve after charging a rate limit's bucket (see
// ratelimit.Redis.Call), in one script: one round trip to Redis for both.
// When the rate refuses, nothing is reserved.
func (r *Redis) ReserveCharged(ctx context.Context, rate gcra.Call, key, object string, n int64, l Limit) (Result, error) {
	return r.reserve(ctx, chargedReserveScript, append(r.keys(key), rate.Key), object, n, l, rate.Args...)
}

// reserve runs a reservation script (reserveScript, or
// chargedReserveScript with the charge's arguments in extra) and reads its
// answer.
func (r *Redis) reserve(ctx context.Context, script *redis.Script, keys []string, object string, n int64, l Limit, extra ...any) (Result, error) {
	id := object + "\x00" + newID()
	args := append([]any{id, object, n, l.Bytes, l.Per.Milliseconds(), MaxReservations}, extra...)
	v, err := script.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(v) == 5 && v[4] == 1 { // chargedReserveScript: the rate refused
		return Result{RateLimited: true, RetryAfter: max(time.Duration(v[2])*time.Millisecond, time.Millisecond)}, nil
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
