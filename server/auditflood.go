package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/authhost/authhost/auth"
)

// Audit flood policy. Anyone can make the server emit failure and denied
// events (a wrong password, a bad webhook signature, a cross-site POST), so
// those, and successes of callers nobody vouched for, are collapsed per
// (action, outcome, error code, resource, client network): the first
// event of a quiet key is written at once, repeats within the window are
// only counted, and when the window ends the count is written as one event
// carrying "count", "firstAt" and "lastAt" in its metadata (and the
// details of the last repeat). That event opens the next window, so a key
// writes at most one event per window however hard it is hit, and no
// repeat is lost: the counts of a key add up to the requests made (an
// event without "count" stands for one). Pending counts are also written
// on Close. Successes of an identified actor (a sign-in, an admin change,
// a verified webhook delivery) are written one by one: they need a
// credential and are what an auditor reads the log for.
const (
	// defaultAuditWindow is the collapse window when Config leaves it zero.
	defaultAuditWindow = time.Minute
	// auditFloodKeys bounds the keys tracked at once; past it, new keys
	// share one overflow network per (action, outcome), so memory and
	// storage stay bounded even against many addresses.
	auditFloodKeys = 10000
	// auditOverflowNet is the network of keys past auditFloodKeys, and
	// auditOtherNet that of events whose IP does not parse.
	auditOverflowNet = "overflow"
	auditOtherNet    = "other"
	// auditFlushTimeout bounds writing the collapsed events of one flush.
	auditFlushTimeout = 10 * time.Second
)

// auditFlood is an auth.AuditLogger in front of the composed one that
// applies the flood policy above.
type auditFlood struct {
	next    auth.AuditLogger
	window  time.Duration
	maxKeys int
	now     func() time.Time
	log     *slog.Logger

	mu     sync.Mutex
	keys   map[floodKey]*floodEntry
	timer  *time.Timer // armed while keys is not empty
	closed bool
}

// floodKey is what makes two events repeats of each other. Code is the
// error code in the event's metadata, if any (a closed set): an outage
// of a provider is not a repeat of wrong passwords. Resource is the
// event's resource (a capability, a webhook provider), except the path of
// a route, which the client chooses and which would make every request a
// new key.
type floodKey struct{ action, outcome, code, resource, network string }

// maxKeyPart bounds the code and resource parts of a key.
const maxKeyPart = 128

// floodResource is the resource part of e's key.
func floodResource(e auth.AuditEvent) string {
	switch {
	case e.Resource == nil:
		return ""
	case e.Resource.Type == "route":
		return e.Resource.Type
	}
	return truncate(e.Resource.Type+"/"+e.Resource.ID, maxKeyPart)
}

// floodEntry is one key's current window.
type floodEntry struct {
	start time.Time
	// n counts the repeats of this window not yet written; last is the
	// latest of them and firstAt when the first arrived.
	n       int64
	firstAt time.Time
	last    auth.AuditEvent
}

var _ auth.AuditLogger = (*auditFlood)(nil)

func newAuditFlood(next auth.AuditLogger, window time.Duration, log *slog.Logger) *auditFlood {
	return &auditFlood{next: next, window: window, maxKeys: auditFloodKeys, now: time.Now, log: log, keys: map[floodKey]*floodEntry{}}
}

// collapsible reports whether e falls under the flood policy: every
// failure or denial, and successes whose actor is not identified.
func collapsible(e auth.AuditEvent) bool {
	if e.Outcome != auth.OutcomeSuccess {
		return true
	}
	switch e.Actor.ID {
	case "", "anonymous", "unknown":
		return true
	}
	return false
}

// Log implements auth.AuditLogger.
func (f *auditFlood) Log(ctx context.Context, e auth.AuditEvent) error {
	if f.window < 0 || !collapsible(e) {
		return f.next.Log(ctx, e)
	}
	code, _ := e.Metadata["code"].(string)
	k := floodKey{action: e.Action, outcome: e.Outcome, code: truncate(code, maxKeyPart), resource: floodResource(e), network: clientNetwork(e.Actor.IP)}
	now := f.now()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return f.next.Log(ctx, e)
	}
	ent := f.keys[k]
	if ent == nil && len(f.keys) >= f.maxKeys {
		k.network = auditOverflowNet
		ent = f.keys[k]
	}
	var due []auth.AuditEvent
	if ent != nil && !now.Before(ent.start.Add(f.window)) {
		// The window is over and the timer has not run yet.
		due = f.closeWindow(k, ent, now, due)
		ent = f.keys[k]
	}
	if ent != nil {
		if ent.n == 0 {
			ent.firstAt = e.Timestamp
		}
		ent.n++
		ent.last = e
		f.mu.Unlock()
		f.write(due)
		return nil
	}
	f.keys[k] = &floodEntry{start: now}
	f.arm()
	f.mu.Unlock()
	f.write(due)
	return f.next.Log(ctx, e)
}

// closeWindow ends the window of k at now: repeats become one event (due
// to be written) that opens the next window; a key without repeats is
// forgotten. The caller holds mu.
func (f *auditFlood) closeWindow(k floodKey, ent *floodEntry, now time.Time, due []auth.AuditEvent) []auth.AuditEvent {
	if ent.n == 0 {
		delete(f.keys, k)
		return due
	}
	due = append(due, summary(ent, now))
	*ent = floodEntry{start: now}
	return due
}

// summary is the event recording ent's repeats, written at now.
func summary(ent *floodEntry, now time.Time) auth.AuditEvent {
	e := ent.last
	e.ID = newEventID()
	e.Timestamp = now.UTC()
	e.Metadata = maps.Clone(e.Metadata)
	if e.Metadata == nil {
		e.Metadata = map[string]any{}
	}
	e.Metadata["count"] = ent.n
	e.Metadata["firstAt"] = ent.firstAt.UTC().Format(time.RFC3339Nano)
	e.Metadata["lastAt"] = ent.last.Timestamp.UTC().Format(time.RFC3339Nano)
	return e
}

// arm schedules the next sweep unless one is pending. The caller holds mu.
func (f *auditFlood) arm() {
	if f.timer == nil && !f.closed {
		f.timer = time.AfterFunc(f.window, f.sweep)
	}
}

// sweep closes every window that has ended and writes the collapsed
// events; it re-arms itself while keys remain.
func (f *auditFlood) sweep() {
	now := f.now()
	f.mu.Lock()
	f.timer = nil
	if f.closed {
		f.mu.Unlock()
		return
	}
	var due []auth.AuditEvent
	next := f.window
	for k, ent := range f.keys {
		end := ent.start.Add(f.window)
		if now.Before(end) {
			next = min(next, end.Sub(now))
			continue
		}
		due = f.closeWindow(k, ent, now, due)
	}
	if len(f.keys) > 0 {
		// Not more often than a tenth of the window: a collapsed event may
		// come that much after its window, never before it.
		f.timer = time.AfterFunc(max(next, f.window/10, time.Millisecond), f.sweep)
	}
	f.mu.Unlock()
	f.write(due)
}

// Close stops collapsing and writes every pending count, window over or
// not. Events logged afterwards are written one by one.
func (f *auditFlood) Close(ctx context.Context) error {
	now := f.now()
	f.mu.Lock()
	f.closed = true
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	var due []auth.AuditEvent
	for k, ent := range f.keys {
		due = f.closeWindow(k, ent, now, due)
	}
	clear(f.keys)
	f.mu.Unlock()
	return f.writeCtx(ctx, due)
}

// write writes due in the background of a request or a sweep: a failure
// is logged (the request it belongs to is long gone).
func (f *auditFlood) write(due []auth.AuditEvent) {
	if len(due) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), auditFlushTimeout)
	defer cancel()
	if err := f.writeCtx(ctx, due); err != nil {
		f.log.Error("audit: writing collapsed events failed", "error", err)
	}
}

// writeCtx writes due, all of it even when some writes fail, and returns
// the first error.
func (f *auditFlood) writeCtx(ctx context.Context, due []auth.AuditEvent) error {
	var first error
	for _, e := range due {
		if err := f.next.Log(ctx, e); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("audit flood: write collapsed events: %w", first)
	}
	return nil
}
