// Package membudget limits how much memory concurrent large operations,
// such as image decodes, may hold at once.
//
// A [Budget] is a semaphore weighted in bytes: each operation acquires its
// estimated peak before it starts and releases it when done, so a burst of
// large decodes runs a few at a time instead of all together. A request
// larger than the whole budget waits until nothing else holds any and then
// runs alone. Waiters are served in arrival order, so a large request is
// not starved by a stream of small ones.
//
// Freed memory is handed back to the operating system (a forced collection
// and scavenge) when a share of at least ReturnThreshold bytes is released,
// before the next waiter starts, so serialized large decodes do not stack
// on each other's garbage; and when the budget falls idle after smaller
// shares that add up to ReturnThreshold. A server's resident size thus
// falls back after a spike instead of staying at its peak.
package membudget

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// ReturnThreshold is how many bytes must have been released since memory
// was last returned before an idle budget returns it again.
const ReturnThreshold = 64 << 20

// Budget is a weighted semaphore over bytes. Its methods are safe for
// concurrent use.
type Budget struct {
	capacity int64

	mu       sync.Mutex
	used     int64
	waiters  []*waiter
	released int64 // since memory was last returned

	returning atomic.Bool
	// returnMemory gives freed memory back to the OS (debug.FreeOSMemory);
	// tests replace it.
	returnMemory func()
}

type waiter struct {
	n     int64
	ready chan struct{}
}

// New returns a budget of capacity bytes (at least 1).
func New(capacity int64) *Budget {
	return &Budget{capacity: max(capacity, 1), returnMemory: debug.FreeOSMemory}
}

// Capacity is the budget's size in bytes.
func (b *Budget) Capacity() int64 { return b.capacity }

// Acquire waits until n bytes (at most the capacity) are free and takes
// them. It returns a function that gives them back (calling it more than
// once is harmless), or ctx's error if ctx ends first.
func (b *Budget) Acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 0), b.capacity)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.capacity {
		b.used += n
		b.mu.Unlock()
		return b.releaser(n), nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return b.releaser(n), nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	select {
	case <-w.ready: // granted meanwhile: hand it back
		b.used -= n
	default:
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
	}
	b.grant()
	b.mu.Unlock()
	return nil, fmt.Errorf("waiting for %d bytes of decode memory: %w", n, context.Cause(ctx))
}

func (b *Budget) releaser(n int64) func() {
	var once sync.Once
	return func() { once.Do(func() { b.release(n) }) }
}

func (b *Budget) release(n int64) {
	if n >= ReturnThreshold {
		// A large share is garbage now: collect it and hand it back before
		// the next waiter starts, or the next decode's memory stacks on it
		// until the collector gets round to it.
		b.mu.Lock()
		b.used -= n
		b.mu.Unlock()
		b.returnMemory()
		b.mu.Lock()
		b.grant()
		b.mu.Unlock()
		return
	}
	b.mu.Lock()
	b.used -= n
	b.released += n
	b.grant()
	idle := b.used == 0 && len(b.waiters) == 0 && b.released >= ReturnThreshold
	if idle {
		b.released = 0
	}
	b.mu.Unlock()
	if idle && b.returning.CompareAndSwap(false, true) {
		go func() {
			defer b.returning.Store(false)
			b.returnMemory()
		}()
	}
}

// grant wakes waiters, in order, while their requests fit. b.mu is held.
func (b *Budget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.capacity {
			return
		}
		b.used += w.n
		b.waiters = b.waiters[1:]
		close(w.ready)
	}
}

// InUse reports the bytes currently held.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
