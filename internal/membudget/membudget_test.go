package membudget

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNeverOverCapacity runs many concurrent holders of random sizes and
// checks that what they hold together never exceeds the capacity, and that
// a request larger than the capacity runs alone.
func TestNeverOverCapacity(t *testing.T) {
	const capacity = 100
	b := New(capacity)
	b.returnMemory = func() {}
	var held, peak atomic.Int64
	var aloneViolations atomic.Int64
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(rand.IntN(60) + 1)
			if i%16 == 0 {
				n = 500 // over the capacity: must run alone
			}
			release, err := b.Acquire(context.Background(), n)
			if err != nil {
				t.Error(err)
				return
			}
			w := min(n, capacity)
			now := held.Add(w)
			for {
				p := peak.Load()
				if now <= p || peak.CompareAndSwap(p, now) {
					break
				}
			}
			if n > capacity && now != capacity {
				aloneViolations.Add(1)
			}
			time.Sleep(time.Millisecond)
			held.Add(-w)
			release()
			release() // harmless
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > capacity {
		t.Errorf("peak %d over the capacity %d", p, capacity)
	}
	if v := aloneViolations.Load(); v > 0 {
		t.Errorf("%d oversized requests ran beside others", v)
	}
	if u := b.InUse(); u != 0 {
		t.Errorf("%d bytes still in use after all released", u)
	}
}

// TestCanceledWaiter checks that a waiter whose context ends gets the
// context's error at once and leaves the budget as it was, and that a large
// request queued first is served before smaller ones that arrive later.
func TestCanceledWaiterAndOrder(t *testing.T) {
	b := New(10)
	b.returnMemory = func() {}
	hold, err := b.Acquire(context.Background(), 8)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.Acquire(ctx, 5)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("a canceled waiter kept waiting")
	}
	// A large waiter first, then a small one that would fit now: the small
	// one must wait behind the large one.
	order := make(chan int64, 2)
	go func() {
		r, _ := b.Acquire(context.Background(), 10)
		order <- 10
		r()
	}()
	time.Sleep(20 * time.Millisecond)
	go func() {
		r, _ := b.Acquire(context.Background(), 2)
		order <- 2
		r()
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case n := <-order:
		t.Fatalf("request of %d served while 8 of 10 were held", n)
	default:
	}
	hold()
	if first, second := <-order, <-order; first != 10 || second != 2 {
		t.Fatalf("served %d then %d, want 10 then 2", first, second)
	}
	// Each goroutine reports before it releases: give the last release a
	// moment.
	for deadline := time.Now().Add(time.Second); b.InUse() != 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if u := b.InUse(); u != 0 {
		t.Errorf("%d bytes in use at the end", u)
	}
}

// TestReturnsMemoryAfterBurst checks that memory is handed back to the OS
// once the budget falls idle after a burst, and not after small use.
func TestReturnsMemoryAfterBurst(t *testing.T) {
	b := New(1 << 30)
	returned := make(chan struct{}, 4)
	b.returnMemory = func() { returned <- struct{}{} }
	small, _ := b.Acquire(context.Background(), 1<<20)
	small()
	select {
	case <-returned:
		t.Fatal("memory returned after a small decode")
	case <-time.After(50 * time.Millisecond):
	}
	var releases []func()
	for range 3 {
		r, _ := b.Acquire(context.Background(), ReturnThreshold/2)
		releases = append(releases, r)
	}
	releases[0]()
	releases[1]()
	select {
	case <-returned:
		t.Fatal("memory returned while a decode still held some")
	case <-time.After(50 * time.Millisecond):
	}
	releases[2]()
	select {
	case <-returned:
	case <-time.After(time.Second):
		t.Fatal("memory not returned after the burst")
	}
}

// TestLargeReleaseReturnsBeforeNextWaiter checks that releasing a large
// share returns memory before a waiting request is granted.
func TestLargeReleaseReturnsBeforeNextWaiter(t *testing.T) {
	b := New(ReturnThreshold)
	var events []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		events = append(events, s)
		mu.Unlock()
	}
	b.returnMemory = func() { note("returned") }
	release, _ := b.Acquire(context.Background(), ReturnThreshold)
	granted := make(chan struct{})
	go func() {
		r, _ := b.Acquire(context.Background(), ReturnThreshold)
		note("granted")
		r()
		close(granted)
	}()
	time.Sleep(20 * time.Millisecond)
	release()
	<-granted
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 2 || events[0] != "returned" || events[1] != "granted" {
		t.Fatalf("events %v, want memory returned before the waiter was granted", events)
	}
}
