package audit

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/store"
)

// Key layout: a reverse scan of evPrefix yields the newest event first.
//
//	audit/ev/<20-digit unix nanos>/<id>          → event JSON
//	audit/id/<escaped id>                       → its audit/ev key
//	audit/ix/<dimension>/<values>/<nanos>/<id>  → empty (secondary keys)
//	audit/meta/indexed                          → set once every event has its secondary keys
//
// A secondary key ends in the same "<nanos>/<id>" as its event's key, so a
// reverse scan of one dimension's value yields its events newest first,
// and its event key is evPrefix plus that suffix. Values are path-escaped,
// so "/" never appears inside one.
const (
	evPrefix  = "audit/ev/"
	idPrefix  = "audit/id/"
	ixPrefix  = "audit/ix/"
	ixMarker  = "audit/meta/indexed"
	nanoWidth = 20
)

// ixBatch is how many secondary keys an indexed scan reads before it
// fetches their events.
const ixBatch = 256

// Page sizes of Query.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// deleteBatch is how many events one DeleteOlderThan transaction removes.
const deleteBatch = 500

// CSVHeader returns the header row of a CSV export.
func CSVHeader() []string {
	return []string{"id", "timestamp", "actorType", "actorId", "actorEmail", "action", "resourceType", "resourceId", "outcome", "durationMs", "ip", "userAgent"}
}

// StoreOptions configures a Store.
type StoreOptions struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// TotalCap is how far Query counts matches (see auth.AuditTotalCap,
	// the default when 0).
	TotalCap int
}

// Store is an auth.AuditStore on a store.Store. Events are keyed by
// timestamp, so queries walk them newest first. Each event also has
// secondary keys by actor id, resource type and id, outcome and actor
// type; a filter on one of those walks that dimension's keys (newest
// first too) instead of every event of the date range. Other filters
// (action, free text) are applied while walking. Query counts matches
// only up to TotalCap, so an unselective filter costs a page and the cap.
type Store struct {
	st       store.Store
	now      func() time.Time
	totalCap int

	// indexed is set once audit/meta/indexed exists: every event has its
	// secondary keys (events logged before they existed get them from
	// buildIndex on the first read). buildMu serialises buildIndex.
	// checked is set once Log has looked for a store without events.
	indexed atomic.Bool
	checked atomic.Bool
	buildMu sync.Mutex
}

var _ auth.AuditStore = (*Store)(nil)

// NewStore returns an audit store keeping its events in st.
func NewStore(st store.Store, opts StoreOptions) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	totalCap := opts.TotalCap
	if totalCap <= 0 {
		totalCap = auth.AuditTotalCap
	}
	return &Store{st: st, now: now, totalCap: totalCap}
}

func evKey(nanos int64, id string) string {
	return fmt.Sprintf("%s%0*d/%s", evPrefix, nanoWidth, nanos, url.PathEscape(id))
}

func idKey(id string) string { return idPrefix + url.PathEscape(id) }

// Dimensions of the secondary keys.
const (
	dimActor    = "actor/"   // actor id
	dimResource = "res/"     // resource type, resource id
	dimOutcome  = "outcome/" // outcome
	dimType     = "type/"    // actor type
)

// ixKeys returns e's secondary keys; suffix is its event key without
// evPrefix.
func ixKeys(e *auth.AuditEvent, suffix string) []string {
	keys := []string{
		ixPrefix + dimActor + url.PathEscape(e.Actor.ID) + "/" + suffix,
		ixPrefix + dimOutcome + url.PathEscape(e.Outcome) + "/" + suffix,
		ixPrefix + dimType + url.PathEscape(e.Actor.Type) + "/" + suffix,
	}
	if e.Resource != nil {
		keys = append(keys, ixPrefix+dimResource+url.PathEscape(e.Resource.Type)+"/"+url.PathEscape(e.Resource.ID)+"/"+suffix)
	}
	return keys
}

// ixFor returns the prefix of the secondary keys a query with f walks, or
// "" when it walks the events. The most selective dimension wins: actor
// id, then resource type and id, then outcome and actor type unless they
// ask for the values most events have (success, user), where walking the
// events themselves is cheaper than fetching each one.
func ixFor(f auth.AuditFilter) string {
	switch {
	case f.ActorID != "":
		return ixPrefix + dimActor + url.PathEscape(f.ActorID) + "/"
	case f.ResourceType != "" && f.ResourceID != "":
		return ixPrefix + dimResource + url.PathEscape(f.ResourceType) + "/" + url.PathEscape(f.ResourceID) + "/"
	case f.Outcome != "" && f.Outcome != auth.OutcomeSuccess:
		return ixPrefix + dimOutcome + url.PathEscape(f.Outcome) + "/"
	case f.ActorType != "" && f.ActorType != auth.ActorUser:
		return ixPrefix + dimType + url.PathEscape(f.ActorType) + "/"
	}
	return ""
}

// keyNanos reads the timestamp out of an audit/ev key.
func keyNanos(key string) int64 {
	if len(key) < len(evPrefix)+nanoWidth {
		return 0
	}
	n, _ := strconv.ParseInt(key[len(evPrefix):len(evPrefix)+nanoWidth], 10, 64)
	return n
}

// Log implements auth.AuditLogger. A missing id (UUIDv7) and timestamp
// (now) are filled in; a duplicate id is refused with CodeAlreadyExists.
// Concurrent calls are safe and lose nothing.
func (s *Store) Log(ctx context.Context, e auth.AuditEvent) error {
	if e.Action == "" {
		return auth.Errorf(auth.CodeInvalidRequest, "audit: action is required")
	}
	Fill(&e, s.now)
	nanos := e.Timestamp.UnixNano()
	if nanos < 0 {
		return auth.Errorf(auth.CodeInvalidRequest, "audit: timestamp %v is before 1970", e.Timestamp)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: encode event: %w", err)
	}
	if !s.checked.Load() {
		if err := s.markFresh(ctx); err != nil {
			return fmt.Errorf("audit: log: %w", err)
		}
	}
	key := evKey(nanos, e.ID)
	err = s.st.Update(ctx, func(tx store.Txn) error {
		_, err := tx.Get(ctx, idKey(e.ID))
		switch {
		case err == nil:
			return auth.Errorf(auth.CodeAlreadyExists, "audit: event %q already exists", e.ID)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := tx.Put(ctx, key, b, 0); err != nil {
			return err
		}
		for _, k := range ixKeys(&e, key[len(evPrefix):]) {
			if err := tx.Put(ctx, k, []byte{}, 0); err != nil {
				return err
			}
		}
		return tx.Put(ctx, idKey(e.ID), []byte(key), 0)
	})
	if err != nil {
		return fmt.Errorf("audit: log: %w", err)
	}
	return nil
}

// Get implements auth.AuditStore; a missing event is auth.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*auth.AuditEvent, error) {
	notFound := auth.Errorf(auth.CodeNotFound, "audit: event %q not found", id)
	if id == "" {
		return nil, notFound
	}
	key, err := s.st.Get(ctx, idKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("audit: get %q: %w", id, err)
	}
	b, err := s.st.Get(ctx, string(key))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("audit: get %q: %w", id, err)
	}
	var e auth.AuditEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("audit: decode %q: %w", id, err)
	}
	return &e, nil
}

// matcher is a compiled auth.AuditFilter.
type matcher struct {
	f      auth.AuditFilter
	action *regexp.Regexp // when Action has '*'
	text   string         // lower-cased
}

func compile(f auth.AuditFilter) *matcher {
	m := &matcher{f: f, text: strings.ToLower(f.Text)}
	if strings.Contains(f.Action, "*") {
		m.action = wildcard(f.Action)
	}
	return m
}

func (m *matcher) match(e *auth.AuditEvent) bool {
	f := m.f
	switch {
	case f.ActorID != "" && e.Actor.ID != f.ActorID,
		f.ActorType != "" && e.Actor.Type != f.ActorType,
		f.Outcome != "" && e.Outcome != f.Outcome,
		f.ActionPrefix != "" && !strings.HasPrefix(e.Action, f.ActionPrefix):
		return false
	}
	if f.Action != "" {
		if m.action != nil {
			if !m.action.MatchString(e.Action) {
				return false
			}
		} else if e.Action != f.Action {
			return false
		}
	}
	if f.ResourceType != "" || f.ResourceID != "" {
		if e.Resource == nil ||
			(f.ResourceType != "" && e.Resource.Type != f.ResourceType) ||
			(f.ResourceID != "" && e.Resource.ID != f.ResourceID) {
			return false
		}
	}
	if !f.Start.IsZero() && e.Timestamp.Before(f.Start) {
		return false
	}
	if !f.End.IsZero() && e.Timestamp.After(f.End) {
		return false
	}
	if m.text != "" {
		fields := []string{e.Actor.ID, e.Actor.Email}
		if e.Resource != nil {
			fields = append(fields, e.Resource.Type, e.Resource.ID, e.Resource.Name)
		}
		found := false
		for _, v := range fields {
			if strings.Contains(strings.ToLower(v), m.text) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// byKeys reports whether the matches of f can be counted from keys
// without reading events: f filters on time alone, or on time and the
// dimension of the secondary keys ixFor picks.
func byKeys(f auth.AuditFilter) bool {
	rest := auth.AuditFilter{ActorID: f.ActorID, ActorType: f.ActorType, Action: f.Action, ActionPrefix: f.ActionPrefix,
		ResourceType: f.ResourceType, ResourceID: f.ResourceID, Outcome: f.Outcome, Text: f.Text}
	switch ix := ixFor(f); {
	case ix == "":
	case strings.HasPrefix(ix, ixPrefix+dimActor):
		rest.ActorID = ""
	case strings.HasPrefix(ix, ixPrefix+dimResource):
		rest.ResourceType, rest.ResourceID = "", ""
	case strings.HasPrefix(ix, ixPrefix+dimOutcome):
		rest.Outcome = ""
	case strings.HasPrefix(ix, ixPrefix+dimType):
		rest.ActorType = ""
	}
	return rest == auth.AuditFilter{}
}

// scan calls fn with every event matching f whose key sorts below below
// (from the newest when ""), newest first; fn returns false to stop. With
// keysOnly, allowed only when byKeys(f), fn gets a nil event.
func (s *Store) scan(ctx context.Context, f auth.AuditFilter, below string, keysOnly bool, fn func(key string, e *auth.AuditEvent) (bool, error)) error {
	m := compile(f)
	if !f.End.IsZero() {
		// Everything at or before End sorts below the key of End+1ns.
		if end := evKey(f.End.UnixNano()+1, ""); below == "" || end < below {
			below = end
		}
	}
	var start int64 = -1
	if !f.Start.IsZero() {
		start = f.Start.UnixNano()
	}
	visit := func(k string, v []byte) (bool, error) {
		if keysOnly {
			return fn(k, nil)
		}
		var e auth.AuditEvent
		if err := json.Unmarshal(v, &e); err != nil {
			return false, fmt.Errorf("audit: decode %s: %w", k, err)
		}
		if !m.match(&e) {
			return true, nil
		}
		return fn(k, &e)
	}
	ix := ixFor(f)
	if ix == "" {
		return s.st.Scan(ctx, evPrefix, store.ScanOptions{Reverse: true, After: below, KeysOnly: keysOnly}, func(k string, v []byte) error {
			if keyNanos(k) < start {
				return store.ErrStopScan
			}
			more, err := visit(k, v)
			if err != nil {
				return err
			}
			if !more {
				return store.ErrStopScan
			}
			return nil
		})
	}
	if err := s.ensureIndex(ctx); err != nil {
		return err
	}
	// Walk the secondary keys a batch at a time, then fetch their events
	// (outside the scan: a store may not allow a read inside its scan).
	after := ""
	if below != "" {
		after = ix + below[len(evPrefix):]
	}
	for {
		var keys []string
		err := s.st.Scan(ctx, ix, store.ScanOptions{Reverse: true, After: after, Limit: ixBatch, KeysOnly: true}, func(k string, _ []byte) error {
			key := evPrefix + k[len(ix):]
			if keyNanos(key) < start {
				return store.ErrStopScan
			}
			keys = append(keys, key)
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if keysOnly {
				if more, err := fn(k, nil); err != nil || !more {
					return err
				}
				continue
			}
			v, err := s.st.Get(ctx, k)
			if errors.Is(err, store.ErrNotFound) {
				continue // retention deleted it after its secondary key was read
			}
			if err != nil {
				return err
			}
			more, err := visit(k, v)
			if err != nil || !more {
				return err
			}
		}
		if len(keys) < ixBatch {
			return nil
		}
		after = ix + keys[len(keys)-1][len(evPrefix):]
	}
}

// ensureIndex makes sure every event has its secondary keys before a
// query relies on them: events logged before they existed get them on the
// first such query (once per store; later ones find audit/meta/indexed).
func (s *Store) ensureIndex(ctx context.Context) error {
	if s.indexed.Load() {
		return nil
	}
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	if s.indexed.Load() {
		return nil
	}
	_, err := s.st.Get(ctx, ixMarker)
	if errors.Is(err, store.ErrNotFound) {
		err = s.buildIndex(ctx)
	}
	if err != nil {
		return fmt.Errorf("audit: build secondary keys: %w", err)
	}
	s.indexed.Store(true)
	return nil
}

// markFresh writes audit/meta/indexed into a store that has no events
// yet, once per Store: every event it will hold is logged with its
// secondary keys, so the first indexed query need not walk them all. A
// store with older events and no marker is left to ensureIndex; so is one
// whose index is being built (Log never waits for that).
func (s *Store) markFresh(ctx context.Context) error {
	if !s.buildMu.TryLock() {
		return nil
	}
	defer s.buildMu.Unlock()
	if s.checked.Load() {
		return nil
	}
	_, err := s.st.Get(ctx, ixMarker)
	switch {
	case err == nil:
		s.indexed.Store(true)
	case !errors.Is(err, store.ErrNotFound):
		return err
	default:
		empty := true
		err := s.st.Scan(ctx, evPrefix, store.ScanOptions{Limit: 1, KeysOnly: true}, func(string, []byte) error {
			empty = false
			return store.ErrStopScan
		})
		if err != nil {
			return err
		}
		if empty {
			if err := s.st.Put(ctx, ixMarker, []byte("1"), 0); err != nil {
				return err
			}
			s.indexed.Store(true)
		}
	}
	s.checked.Store(true)
	return nil
}

// buildIndex writes the secondary keys of every event, oldest first, in
// bounded transactions, then the marker. Log writes the keys of new
// events itself, so only older ones need them; writing a key twice is
// harmless.
func (s *Store) buildIndex(ctx context.Context) error {
	type stored struct {
		key string
		e   auth.AuditEvent
	}
	after := ""
	for {
		var batch []stored
		err := s.st.Scan(ctx, evPrefix, store.ScanOptions{After: after, Limit: deleteBatch}, func(k string, v []byte) error {
			var e auth.AuditEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode %s: %w", k, err)
			}
			batch = append(batch, stored{k, e})
			return nil
		})
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return s.st.Put(ctx, ixMarker, []byte("1"), 0)
		}
		err = s.st.Update(ctx, func(tx store.Txn) error {
			for _, b := range batch {
				// Retention may have deleted it since the scan: no orphans.
				if _, err := tx.Get(ctx, b.key); errors.Is(err, store.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
				for _, k := range ixKeys(&b.e, b.key[len(evPrefix):]) {
					if err := tx.Put(ctx, k, []byte{}, 0); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		after = batch[len(batch)-1].key
	}
}

func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1|" + key))
}

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	key, ok := strings.CutPrefix(string(b), "v1|")
	if err != nil || !ok || !strings.HasPrefix(key, evPrefix) {
		return "", auth.Errorf(auth.CodeInvalidRequest, "audit: invalid cursor")
	}
	return key, nil
}

// Query implements auth.AuditStore: newest first, Limit defaulting to
// DefaultLimit and capped at MaxLimit. With a Cursor the page starts after
// the previous page and Offset is ignored. Total counts the matches up to
// the store's TotalCap (TotalCapped beyond it). NextCursor is set when more
// matches follow the page.
func (s *Store) Query(ctx context.Context, f auth.AuditFilter, p auth.AuditPage) (*auth.AuditResult, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	offset := max(p.Offset, 0)
	var below string
	if p.Cursor != "" {
		var err error
		if below, err = decodeCursor(p.Cursor); err != nil {
			return nil, err
		}
		offset = 0
	}
	// Without a cursor the page's own walk goes on counting, unless the
	// matches can be counted from keys alone.
	counting := p.Cursor == "" && !byKeys(f)
	res := &auth.AuditResult{Events: []auth.AuditEvent{}}
	var lastKey string
	more := false
	n := 0 // matches seen
	err := s.scan(ctx, f, below, false, func(k string, e *auth.AuditEvent) (bool, error) {
		n++
		switch {
		case n <= offset:
		case len(res.Events) < limit:
			res.Events = append(res.Events, *e)
			lastKey = k
		default:
			more = true
		}
		return !more || (counting && n <= s.totalCap), nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	if more {
		res.NextCursor = encodeCursor(lastKey)
	}
	if p.Cursor != "" || (more && !counting) {
		if n, err = s.countUpTo(ctx, f, s.totalCap+1); err != nil {
			return nil, fmt.Errorf("audit: query: %w", err)
		}
	}
	res.Total, res.TotalCapped = min(n, s.totalCap), n > s.totalCap
	return res, nil
}

// countUpTo counts the matches of f, stopping at most.
func (s *Store) countUpTo(ctx context.Context, f auth.AuditFilter, most int) (int, error) {
	n := 0
	err := s.scan(ctx, f, "", byKeys(f), func(string, *auth.AuditEvent) (bool, error) {
		n++
		return n < most, nil
	})
	return n, err
}

// Count implements auth.AuditStore: every match, uncapped.
func (s *Store) Count(ctx context.Context, f auth.AuditFilter) (int, error) {
	n, err := s.countUpTo(ctx, f, math.MaxInt)
	if err != nil {
		return 0, fmt.Errorf("audit: count: %w", err)
	}
	return n, nil
}

// DeleteOlderThan implements auth.AuditStore: it removes events whose
// timestamp is more than days×24h before now, with their secondary keys,
// in batches of bounded transactions. days must be at least 1.
func (s *Store) DeleteOlderThan(ctx context.Context, days int) (int, error) {
	if days < 1 {
		return 0, auth.Errorf(auth.CodeInvalidRequest, "audit: retention must be at least 1 day, got %d", days)
	}
	cutoff := s.now().Add(-time.Duration(days) * 24 * time.Hour).UnixNano()
	total := 0
	for {
		var keys []string
		var events []*auth.AuditEvent
		err := s.st.Scan(ctx, evPrefix, store.ScanOptions{Limit: deleteBatch}, func(k string, v []byte) error {
			if keyNanos(k) >= cutoff {
				return store.ErrStopScan
			}
			var e *auth.AuditEvent
			if err := json.Unmarshal(v, &e); err != nil {
				e = nil // undecodable: it goes, without secondary keys to find
			}
			keys, events = append(keys, k), append(events, e)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("audit: delete old events: %w", err)
		}
		if len(keys) == 0 {
			return total, nil
		}
		err = s.st.Update(ctx, func(tx store.Txn) error {
			for i, k := range keys {
				suffix := k[len(evPrefix):]
				del := []string{k, idPrefix + suffix[nanoWidth+1:]} // the id is already escaped
				if events[i] != nil {
					del = append(del, ixKeys(events[i], suffix)...)
				}
				for _, d := range del {
					if err := tx.Delete(ctx, d); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("audit: delete old events: %w", err)
		}
		total += len(keys)
	}
}

// Export implements auth.AuditStore. Events are written as they are
// scanned, newest first; nothing but a small write buffer is held.
//
// CSV: the header CSVHeader(), RFC 4180 quoting (encoding/csv, LF line ends),
// timestamps in RFC 3339 UTC, and a formula-injection guard: a value
// starting with '=', '+', '-', '@', tab or carriage return gets a leading
// "'" so spreadsheets do not evaluate it.
func (s *Store) Export(ctx context.Context, f auth.AuditFilter, format auth.ExportFormat, w io.Writer) error {
	switch format {
	case auth.ExportJSONL:
		bw := bufio.NewWriterSize(w, 32<<10)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		err := s.scan(ctx, f, "", false, func(_ string, e *auth.AuditEvent) (bool, error) {
			return true, enc.Encode(e)
		})
		if err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		return nil
	case auth.ExportCSV:
		cw := csv.NewWriter(w)
		header := CSVHeader()
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		row := make([]string, len(header))
		err := s.scan(ctx, f, "", false, func(_ string, e *auth.AuditEvent) (bool, error) {
			CSVRow(row, e)
			return true, cw.Write(row)
		})
		if err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		return nil
	default:
		return auth.Errorf(auth.CodeInvalidRequest, "audit: unknown export format %q (want %q or %q)", format, auth.ExportJSONL, auth.ExportCSV)
	}
}

// CSVRow fills row (of len(CSVHeader())) with e's export columns, each
// through GuardFormula.
func CSVRow(row []string, e *auth.AuditEvent) {
	var rtype, rid string
	if e.Resource != nil {
		rtype, rid = e.Resource.Type, e.Resource.ID
	}
	dur := ""
	if e.DurationMS != 0 {
		dur = strconv.FormatInt(e.DurationMS, 10)
	}
	vals := []string{
		e.ID, e.Timestamp.UTC().Format(time.RFC3339Nano), e.Actor.Type, e.Actor.ID, e.Actor.Email,
		e.Action, rtype, rid, e.Outcome, dur, e.Actor.IP, e.Actor.UserAgent,
	}
	for i, v := range vals {
		row[i] = GuardFormula(v)
	}
}

// GuardFormula prefixes "'" to a CSV value that a spreadsheet would
// evaluate as a formula: one starting with '=', '+', '-', '@', tab or CR.
func GuardFormula(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
