package engine

import (
	"sync"
	"time"
)

// watchdog enforces the call deadlines of every instance of one engine
// with a single goroutine: a min-heap of running calls by deadline and one
// timer armed for the earliest. A call registers before it enters the
// guest and unregisters after (a lock and a heap operation, no
// allocation, no goroutine). The timer is not disarmed when calls finish
// on time: when it fires it expires what is due and re-arms for the next
// deadline, so with a steady stream of calls sharing one timeout it fires
// about once per timeout, not once per call.
type watchdog struct {
	mu    sync.Mutex
	heap  []*dogEntry
	armed int64 // unix nanoseconds the timer is set for; 0 when disarmed
	timer *time.Timer
	quit  chan struct{}
	once  sync.Once
	due   []*dogEntry // scratch, used by run only
}

// dogEntry is one instance's slot in the heap, reused by every call of
// that instance.
type dogEntry struct {
	inst     *wazeroInstance
	deadline int64 // unix nanoseconds
	index    int   // position in the heap, -1 when not watched
}

func newWatchdog() *watchdog {
	w := &watchdog{quit: make(chan struct{}), timer: time.NewTimer(time.Hour)}
	w.timer.Stop()
	go w.run()
	return w
}

// watch registers e's call with its deadline.
func (w *watchdog) watch(e *dogEntry, deadline time.Time) {
	d := deadline.UnixNano()
	w.mu.Lock()
	e.deadline = d
	e.index = len(w.heap)
	w.heap = append(w.heap, e)
	w.up(e.index)
	if w.armed == 0 || d < w.armed {
		w.armed = d
		w.timer.Reset(time.Until(deadline))
	}
	w.mu.Unlock()
}

// unwatch unregisters e and reports whether it was still registered; false
// means its deadline passed and the watchdog expired it.
func (w *watchdog) unwatch(e *dogEntry) bool {
	w.mu.Lock()
	ok := e.index >= 0
	if ok {
		w.remove(e.index)
	}
	w.mu.Unlock()
	return ok
}

// stop ends the watchdog goroutine.
func (w *watchdog) stop() { w.once.Do(func() { close(w.quit) }) }

func (w *watchdog) run() {
	for {
		select {
		case <-w.quit:
			w.timer.Stop()
			return
		case <-w.timer.C:
		}
		now := time.Now().UnixNano()
		w.mu.Lock()
		for len(w.heap) > 0 && w.heap[0].deadline <= now {
			e := w.heap[0]
			w.remove(0)
			w.due = append(w.due, e)
		}
		w.armed = 0
		if len(w.heap) > 0 {
			w.armed = w.heap[0].deadline
			w.timer.Reset(time.Duration(w.armed - now))
		}
		w.mu.Unlock()
		for i, e := range w.due {
			e.inst.expire()
			w.due[i] = nil
		}
		w.due = w.due[:0]
	}
}

func (w *watchdog) less(a, b int) bool { return w.heap[a].deadline < w.heap[b].deadline }

func (w *watchdog) swap(a, b int) {
	w.heap[a], w.heap[b] = w.heap[b], w.heap[a]
	w.heap[a].index = a
	w.heap[b].index = b
}

func (w *watchdog) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !w.less(j, p) {
			return
		}
		w.swap(j, p)
		j = p
	}
}

func (w *watchdog) down(j int) {
	n := len(w.heap)
	for {
		l := 2*j + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && w.less(r, l) {
			c = r
		}
		if !w.less(c, j) {
			return
		}
		w.swap(j, c)
		j = c
	}
}

// remove takes the entry at heap position j out of the heap.
func (w *watchdog) remove(j int) {
	last := len(w.heap) - 1
	e := w.heap[j]
	if j != last {
		w.swap(j, last)
	}
	w.heap[last] = nil
	w.heap = w.heap[:last]
	if j != last {
		w.down(j)
		w.up(j)
	}
	e.index = -1
}
