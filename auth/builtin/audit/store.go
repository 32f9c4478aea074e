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
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/store"
)

// Key layout: a reverse scan of evPrefix yields the newest event first.
//
//	audit/ev/<20-digit unix nanos>/<id> → event JSON
//	audit/id/<escaped id>              → its audit/ev key
const (
	evPrefix  = "audit/ev/"
	idPrefix  = "audit/id/"
	nanoWidth = 20
)

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
}

// Store is an auth.AuditStore on a store.Store. Events are keyed by
// timestamp, so queries walk them newest first; every filter is applied
// while scanning (the built-in store has no secondary indexes), so a query
// costs a scan of the events in its date range.
type Store struct {
	st  store.Store
	now func() time.Time
}

var _ auth.AuditStore = (*Store)(nil)

// NewStore returns an audit store keeping its events in st.
func NewStore(st store.Store, opts StoreOptions) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{st: st, now: now}
}

func evKey(nanos int64, id string) string {
	return fmt.Sprintf("%s%0*d/%s", evPrefix, nanoWidth, nanos, url.PathEscape(id))
}

func idKey(id string) string { return idPrefix + url.PathEscape(id) }

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

// scan calls fn with every event matching f, newest first; fn returns
// false to stop.
func (s *Store) scan(ctx context.Context, f auth.AuditFilter, fn func(key string, e *auth.AuditEvent) (bool, error)) error {
	m := compile(f)
	opts := store.ScanOptions{Reverse: true}
	if !f.End.IsZero() {
		// Everything at or before End sorts below the key of End+1ns.
		opts.After = evKey(f.End.UnixNano()+1, "")
	}
	var start int64 = -1
	if !f.Start.IsZero() {
		start = f.Start.UnixNano()
	}
	return s.st.Scan(ctx, evPrefix, opts, func(k string, v []byte) error {
		if keyNanos(k) < start {
			return store.ErrStopScan
		}
		var e auth.AuditEvent
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("audit: decode %s: %w", k, err)
		}
		if !m.match(&e) {
			return nil
		}
		more, err := fn(k, &e)
		if err != nil {
			return err
		}
		if !more {
			return store.ErrStopScan
		}
		return nil
	})
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
// the previous page and Offset is ignored. Total counts every match.
// NextCursor is set when more matches follow the page.
func (s *Store) Query(ctx context.Context, f auth.AuditFilter, p auth.AuditPage) (*auth.AuditResult, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	offset := max(p.Offset, 0)
	var cursor string
	if p.Cursor != "" {
		var err error
		if cursor, err = decodeCursor(p.Cursor); err != nil {
			return nil, err
		}
		offset = 0
	}
	res := &auth.AuditResult{Events: []auth.AuditEvent{}}
	var lastKey string
	more := false
	skipped := 0
	err := s.scan(ctx, f, func(k string, e *auth.AuditEvent) (bool, error) {
		res.Total++
		switch {
		case cursor != "" && k >= cursor: // at or before the cursor (newer)
		case skipped < offset:
			skipped++
		case len(res.Events) < limit:
			res.Events = append(res.Events, *e)
			lastKey = k
		default:
			more = true
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	if more {
		res.NextCursor = encodeCursor(lastKey)
	}
	return res, nil
}

// Count implements auth.AuditStore.
func (s *Store) Count(ctx context.Context, f auth.AuditFilter) (int, error) {
	n := 0
	err := s.scan(ctx, f, func(string, *auth.AuditEvent) (bool, error) {
		n++
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("audit: count: %w", err)
	}
	return n, nil
}

// DeleteOlderThan implements auth.AuditStore: it removes events whose
// timestamp is more than days×24h before now, in batches of bounded
// transactions. days must be at least 1.
func (s *Store) DeleteOlderThan(ctx context.Context, days int) (int, error) {
	if days < 1 {
		return 0, auth.Errorf(auth.CodeInvalidRequest, "audit: retention must be at least 1 day, got %d", days)
	}
	cutoff := s.now().Add(-time.Duration(days) * 24 * time.Hour).UnixNano()
	total := 0
	for {
		var keys []string
		err := s.st.Scan(ctx, evPrefix, store.ScanOptions{KeysOnly: true, Limit: deleteBatch}, func(k string, _ []byte) error {
			if keyNanos(k) >= cutoff {
				return store.ErrStopScan
			}
			keys = append(keys, k)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("audit: delete old events: %w", err)
		}
		if len(keys) == 0 {
			return total, nil
		}
		err = s.st.Update(ctx, func(tx store.Txn) error {
			for _, k := range keys {
				if err := tx.Delete(ctx, k); err != nil {
					return err
				}
				id := k[len(evPrefix)+nanoWidth+1:] // already escaped
				if err := tx.Delete(ctx, idPrefix+id); err != nil {
					return err
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
		err := s.scan(ctx, f, func(_ string, e *auth.AuditEvent) (bool, error) {
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
		err := s.scan(ctx, f, func(_ string, e *auth.AuditEvent) (bool, error) {
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
