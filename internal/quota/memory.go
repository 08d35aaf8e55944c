package quota

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store in this process's memory.
type Memory struct {
	now func() time.Time

	mu   sync.Mutex
	keys map[string]*ledger
}

var _ Store = (*Memory)(nil)

// ledger is one key's reservations, oldest first (each lasts one window
// from when it was made, so they leave the window in this order).
type ledger struct {
	entries []*entry
	latest  map[string]*entry // by object
	total   int64
}

type entry struct {
	object string
	bytes  int64
	made   time.Time
	until  time.Time
}

// NewMemory returns an empty Store on the clock now (time.Now when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, keys: make(map[string]*ledger)}
}

// expire drops the reservations that have left the window, and forgets an
// empty ledger.
func (m *Memory) expire(key string, now time.Time) *ledger {
	l := m.keys[key]
	if l == nil {
		return nil
	}
	i := 0
	for ; i < len(l.entries) && !l.entries[i].until.After(now); i++ {
		e := l.entries[i]
		l.total -= e.bytes
		if l.latest[e.object] == e {
			delete(l.latest, e.object)
		}
	}
	l.entries = l.entries[i:]
	if len(l.entries) == 0 {
		delete(m.keys, key)
		return nil
	}
	return l
}

// Reserve implements Store.
func (m *Memory) Reserve(_ context.Context, key, object string, n int64, lim Limit) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	l := m.expire(key, now)
	var used int64
	if l != nil {
		used = l.total
	}
	if used+n > lim.Bytes {
		return Result{Used: used, RetryAfter: m.retryAfter(l, used+n-lim.Bytes, n, lim, now)}, nil
	}
	if l == nil {
		l = &ledger{latest: make(map[string]*entry)}
		m.keys[key] = l
	}
	e := &entry{object: object, bytes: n, made: now, until: now.Add(lim.Per)}
	l.entries = append(l.entries, e)
	l.latest[object] = e
	l.total += n
	return Result{OK: true, Used: l.total}, nil
}

// retryAfter is how long until need bytes have left the window, or 0 when
// n is more than the whole quota.
func (m *Memory) retryAfter(l *ledger, need, n int64, lim Limit, now time.Time) time.Duration {
	if n > lim.Bytes || l == nil {
		return 0
	}
	var freed int64
	for _, e := range l.entries {
		if freed += e.bytes; freed >= need {
			return e.until.Sub(now)
		}
	}
	return lim.Per
}

// Correct implements Store.
func (m *Memory) Correct(_ context.Context, key, object string, n int64, madeBy time.Time, _ Limit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.expire(key, m.now())
	if l == nil {
		return nil
	}
	if e := l.latest[object]; e != nil && e.made.Unix() <= madeBy.Unix() {
		l.total += n - e.bytes
		e.bytes = n
	}
	return nil
}

// Usage implements Store.
func (m *Memory) Usage(_ context.Context, key string, _ Limit) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.expire(key, m.now()); l != nil {
		return l.total, nil
	}
	return 0, nil
}
