package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Memory is a Store in this process's memory.
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	keys      map[string]*ledger
	lastSweep time.Time
}

var _ Store = (*Memory)(nil)

// ledger is one key's reservations, oldest first (they leave the window
// in this order).
type ledger struct {
	entries []*entry
	byID    map[string]*entry
	latest  map[string]*entry // by object
	total   int64
}

type entry struct {
	id, object string
	bytes      int64
	made       time.Time
}

// sweepEvery is how often the store forgets the ledgers of keys nobody
// has used for a window.
const sweepEvery = time.Minute

// NewMemory returns an empty Store on the clock now (time.Now when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, keys: make(map[string]*ledger)}
}

// expire drops the reservations of key that have left the window of per,
// and forgets an empty ledger. Once a minute it does so for every key.
func (m *Memory) expire(key string, now time.Time, per time.Duration) *ledger {
	if now.Sub(m.lastSweep) >= sweepEvery {
		m.lastSweep = now
		for k, l := range m.keys {
			if len(l.entries) > 0 && !l.entries[len(l.entries)-1].made.Add(per).After(now) {
				delete(m.keys, k) // every reservation has left
			}
		}
	}
	l := m.keys[key]
	if l == nil {
		return nil
	}
	i := 0
	for ; i < len(l.entries) && !l.entries[i].made.Add(per).After(now); i++ {
		e := l.entries[i]
		l.total -= e.bytes
		delete(l.byID, e.id)
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
	l := m.expire(key, now, lim.Per)
	var used int64
	if l != nil {
		used = l.total
	}
	switch {
	case n > lim.Bytes:
		return Result{Used: used}, nil
	case l != nil && len(l.entries) >= MaxReservations:
		return Result{Used: used, Full: true, RetryAfter: l.entries[0].made.Add(lim.Per).Sub(now)}, nil
	case used+n > lim.Bytes:
		return Result{Used: used, RetryAfter: retryAfter(l, used+n-lim.Bytes, lim.Per, now)}, nil
	}
	if l == nil {
		l = &ledger{byID: make(map[string]*entry), latest: make(map[string]*entry)}
		m.keys[key] = l
	}
	e := &entry{id: newID(), object: object, bytes: n, made: now}
	l.entries = append(l.entries, e)
	l.byID[e.id] = e
	l.latest[object] = e
	l.total += n
	return Result{OK: true, ID: e.id, Used: l.total}, nil
}

// retryAfter is how long until need bytes have left the window.
func retryAfter(l *ledger, need int64, per time.Duration, now time.Time) time.Duration {
	var freed int64
	for _, e := range l.entries {
		if freed += e.bytes; freed >= need {
			return e.made.Add(per).Sub(now)
		}
	}
	return per
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, key, id string, n int64, lim Limit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.expire(key, m.now(), lim.Per); l != nil {
		if e := l.byID[id]; e != nil {
			l.total += n - e.bytes
			e.bytes = n
		}
	}
	return nil
}

// Correct implements Store.
func (m *Memory) Correct(_ context.Context, key, object string, n int64, madeBy time.Time, lim Limit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.expire(key, m.now(), lim.Per)
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
func (m *Memory) Usage(_ context.Context, key string, lim Limit) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.expire(key, m.now(), lim.Per); l != nil {
		return l.total, nil
	}
	return 0, nil
}

// newID returns a fresh reservation id.
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
