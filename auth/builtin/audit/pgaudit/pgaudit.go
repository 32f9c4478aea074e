// Package pgaudit is the audit store on PostgreSQL: the auth.AuditStore
// that replicas sharing a Postgres store (store/postgres) use instead of
// the key-value audit store, because every filter of GET /api/audit runs
// as an indexed query there (see the table and its indexes in
// store/postgres/migrations/0002_audit.sql, and the search terms in
// 0003_audit_terms.sql) rather than a scan of the date range, and the
// total of a page is counted only up to a cap (auth.AuditTotalCap; lower,
// Options.ScanTotalCap, for a common free text no index narrows). Its
// behaviour is the key-value store's, checked by the same conformance
// suite (auth/authtest.TestAuditStore).
package pgaudit

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
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/builtin/audit"
)

// deleteBatch bounds one retention delete, so writers never wait long
// behind it.
const deleteBatch = 5000

// maxTerms is how many distinct terms a free-text search looks the
// events up by; a text contained in more terms (say "example.com") is
// matched against each event's text instead, which costs little because
// such a text matches many events and a page or a capped count stops
// early.
const maxTerms = 64

// Options configures a Store.
type Options struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// TotalCap is how far Query counts matches (see auth.AuditTotalCap,
	// the default when 0).
	TotalCap int
	// ScanTotalCap is how far Query counts matches of a free-text filter
	// found in more than maxTerms distinct terms, which no index narrows
	// down: counting them reads the events one by one (about 4 µs each),
	// so 10,000 of them would cost ~50 ms a page. Default (0)
	// DefaultScanTotalCap; never above TotalCap.
	ScanTotalCap int
}

// DefaultScanTotalCap is the default Options.ScanTotalCap: the page count
// of a common text ("example.com") stops at "1,000+" and costs a few
// milliseconds at any number of events.
const DefaultScanTotalCap = 1_000

// Store is an auth.AuditStore on the authhost_audit table.
type Store struct {
	pool     *pgxpool.Pool
	now      func() time.Time
	totalCap int
	scanCap  int
}

var _ auth.AuditStore = (*Store)(nil)

// New returns the audit store in the database of pool, whose schema the
// Postgres store (store/postgres) has migrated.
func New(pool *pgxpool.Pool, opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	totalCap := opts.TotalCap
	if totalCap <= 0 {
		totalCap = auth.AuditTotalCap
	}
	scanCap := opts.ScanTotalCap
	if scanCap <= 0 {
		scanCap = DefaultScanTotalCap
	}
	return &Store{pool: pool, now: now, totalCap: totalCap, scanCap: min(scanCap, totalCap)}
}

// encode is the event's JSON as exported (no HTML escaping), without the
// trailing newline.
func encode(e *auth.AuditEvent) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

// searchFields are the fields free-text search looks in, lower-cased.
func searchFields(e *auth.AuditEvent) []string {
	f := []string{e.Actor.ID, e.Actor.Email}
	if e.Resource != nil {
		f = append(f, e.Resource.Type, e.Resource.ID, e.Resource.Name)
	}
	for i := range f {
		f[i] = strings.ToLower(f[i])
	}
	return f
}

// hourNanos is the width of a bucket of authhost_audit_counts.
const hourNanos = int64(time.Hour)

// countShards is how many rows share one bucket's count for writers.
const countShards = 8

// logSQL inserts an event, its search terms and its count, in one
// statement; it affects one row when the event is new and none when its id
// exists.
var logSQL = `WITH ins AS (
		INSERT INTO authhost_audit (` + strings.Join(columns, ", ") + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING
		RETURNING ts, actor_type, outcome, action, search_fields),
	terms AS (
		INSERT INTO authhost_audit_terms (term) SELECT DISTINCT unnest(search_fields) FROM ins
		ON CONFLICT DO NOTHING)
	INSERT INTO authhost_audit_counts (hour, actor_type, outcome, action, shard, n)
	SELECT ts / ` + strconv.FormatInt(hourNanos, 10) + `, actor_type, outcome, action, $12, 1 FROM ins
	ON CONFLICT (hour, actor_type, outcome, action, shard) DO UPDATE SET n = authhost_audit_counts.n + 1`

// columns are the table's columns in the order of row's values.
var columns = []string{"id", "ts", "actor_type", "actor_id", "action", "outcome", "resource_type", "resource_id", "search_fields", "search", "event"}

// row is e's values for columns; e is filled.
func row(e *auth.AuditEvent) ([]any, error) {
	b, err := encode(e)
	if err != nil {
		return nil, fmt.Errorf("pgaudit: encode event: %w", err)
	}
	var rtype, rid *string
	if e.Resource != nil {
		rtype, rid = &e.Resource.Type, &e.Resource.ID
	}
	fields := searchFields(e)
	return []any{e.ID, e.Timestamp.UnixNano(), e.Actor.Type, e.Actor.ID, e.Action, e.Outcome, rtype, rid, fields, strings.Join(fields, "\n"), b}, nil
}

// Log implements auth.AuditLogger. A missing id (UUIDv7) and timestamp
// (now) are filled in; a duplicate id is refused with CodeAlreadyExists.
func (s *Store) Log(ctx context.Context, e auth.AuditEvent) error {
	if e.Action == "" {
		return auth.Errorf(auth.CodeInvalidRequest, "audit: action is required")
	}
	audit.Fill(&e, s.now)
	nanos := e.Timestamp.UnixNano()
	if nanos < 0 {
		return auth.Errorf(auth.CodeInvalidRequest, "audit: timestamp %v is before 1970", e.Timestamp)
	}
	vals, err := row(&e)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, logSQL, append(vals, rand.N(int16(countShards)))...)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "22021" { // invalid UTF-8 or a NUL
			return auth.Errorf(auth.CodeInvalidRequest, "audit: event %q holds text PostgreSQL cannot store (NUL or invalid UTF-8)", e.ID)
		}
		return fmt.Errorf("pgaudit: log: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return auth.Errorf(auth.CodeAlreadyExists, "audit: event %q already exists", e.ID)
	}
	return nil
}

// Get implements auth.AuditStore; a missing event is auth.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*auth.AuditEvent, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, "SELECT event FROM authhost_audit WHERE id = $1", id).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, auth.Errorf(auth.CodeNotFound, "audit: event %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("pgaudit: get %q: %w", id, err)
	}
	var e auth.AuditEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("pgaudit: decode %q: %w", id, err)
	}
	return &e, nil
}

// where is a filter compiled to SQL.
type where struct {
	conds []string
	args  []any
	// scan is set when a condition has no index (a common free text):
	// its count is capped at the store's scanCap.
	scan bool
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

// custom returns w's arguments for a query planned for their values
// (pgx's exec mode: no cached statement, so no generic plan). The columns
// are skewed (most events succeed and are users'; a term is in a few
// events or in most) and a generic plan picks one index for every value:
// it walked the newest events for a rare term.
func (w *where) custom() []any {
	return append([]any{pgx.QueryExecModeExec}, w.args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(w.conds, " AND ")
}

// likeEscape escapes LIKE's metacharacters (the escape character is \).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// compile turns f into conditions with the key-value store's semantics
// (see audit.Store): exact matches, '*' wildcards anchored at both ends,
// case-insensitive substrings of the actor and resource fields, and an
// inclusive time range. A free text is first looked up in the terms.
func (s *Store) compile(ctx context.Context, f auth.AuditFilter) (*where, error) {
	w := &where{}
	addDims(w, f)
	if err := s.addOthers(ctx, w, f); err != nil {
		return nil, err
	}
	if !f.Start.IsZero() {
		w.add("ts >= ?", f.Start.UnixNano())
	}
	if !f.End.IsZero() {
		w.add("ts <= ?", f.End.UnixNano())
	}
	return w, nil
}

// addDims adds the conditions on the columns authhost_audit_counts
// shares with authhost_audit: actor type, outcome and action.
func addDims(w *where, f auth.AuditFilter) {
	if f.ActorType != "" {
		w.add("actor_type = ?", f.ActorType)
	}
	if f.Outcome != "" {
		w.add("outcome = ?", f.Outcome)
	}
	if f.ActionPrefix != "" {
		w.add("action LIKE ?", likeEscape(f.ActionPrefix)+"%")
	}
	if f.Action != "" {
		if strings.Contains(f.Action, "*") {
			parts := strings.Split(f.Action, "*")
			for i, p := range parts {
				parts[i] = likeEscape(p)
			}
			w.add("action LIKE ?", strings.Join(parts, "%"))
		} else {
			w.add("action = ?", f.Action)
		}
	}
}

// addOthers adds the conditions on what only events have.
func (s *Store) addOthers(ctx context.Context, w *where, f auth.AuditFilter) error {
	if f.ActorID != "" {
		w.add("actor_id = ?", f.ActorID)
	}
	if f.ResourceType != "" {
		w.add("resource_type = ?", f.ResourceType)
	}
	if f.ResourceID != "" {
		w.add("resource_id = ?", f.ResourceID)
	}
	if f.Text == "" {
		return nil
	}
	text := strings.ToLower(f.Text)
	like := "%" + likeEscape(text) + "%"
	rows, err := s.pool.Query(ctx, "SELECT term FROM authhost_audit_terms WHERE term LIKE $1 LIMIT "+strconv.Itoa(maxTerms+1), like)
	if err != nil {
		return fmt.Errorf("terms: %w", err)
	}
	terms, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("terms: %w", err)
	}
	switch {
	case len(terms) == 0:
		w.add("FALSE")
	case len(terms) <= maxTerms:
		w.add("search_fields && ?", terms)
	default:
		// A text this common is checked on the events the other filters
		// select (strpos: no index could narrow it down).
		w.add("strpos(search, ?) > 0", text)
		w.scan = true
		if strings.Contains(text, "\n") {
			// The joined column could match across two fields.
			w.add("EXISTS (SELECT 1 FROM unnest(search_fields) AS f WHERE strpos(f, ?) > 0)", text)
		}
	}
	return nil
}

// since returns the conditions added to w since it had n of them.
func (w *where) since(n int) string {
	if len(w.conds) == n {
		return "TRUE"
	}
	return strings.Join(w.conds[n:], " AND ")
}

// cursor is the position after the last event of a page.
type cursor struct {
	ts int64
	id string
}

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte("pg1|" + strconv.FormatInt(c.ts, 10) + "|" + c.id))
}

func decodeCursor(s string) (cursor, error) {
	bad := auth.Errorf(auth.CodeInvalidRequest, "audit: invalid cursor")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	rest, ok := strings.CutPrefix(string(b), "pg1|")
	ts, id, ok2 := strings.Cut(rest, "|")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || !ok2 || err != nil {
		return cursor{}, bad
	}
	return cursor{ts: n, id: id}, nil
}

// Query implements auth.AuditStore: newest first, Limit defaulting to
// audit.DefaultLimit and capped at audit.MaxLimit. With a Cursor the page
// starts after the previous page and Offset is ignored. Total counts the
// matches up to the store's TotalCap (TotalCapped beyond it). NextCursor
// is set when more matches follow the page.
func (s *Store) Query(ctx context.Context, f auth.AuditFilter, p auth.AuditPage) (*auth.AuditResult, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = audit.DefaultLimit
	}
	limit = min(limit, audit.MaxLimit)
	offset := max(p.Offset, 0)
	w, err := s.compile(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("pgaudit: query: %w", err)
	}
	// The capped count runs beside the page on a second connection; a
	// page that shows the last match makes it unnecessary.
	countCtx, cancelCount := context.WithCancel(ctx)
	defer cancelCount()
	type counted struct {
		n   int
		err error
	}
	countDone := make(chan counted, 1)
	totalCap := s.totalCap
	if w.scan {
		totalCap = s.scanCap
	}
	go func(w *where) {
		var n int
		var err error
		if dimsOnly(f) {
			n, err = s.count(countCtx, f)
		} else {
			n, err = s.countUpTo(countCtx, w, totalCap+1)
		}
		countDone <- counted{n, err}
	}(w)
	hasCursor := p.Cursor != ""
	if hasCursor {
		c, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, err
		}
		w = &where{conds: slices.Clone(w.conds), args: slices.Clone(w.args), scan: w.scan}
		w.add("(ts, id) < (?, ?)", c.ts, c.id)
		offset = 0
	}
	sql := fmt.Sprintf("SELECT ts, id, event FROM authhost_audit WHERE %s ORDER BY ts DESC, id DESC LIMIT %d OFFSET %d", w, limit+1, offset)
	rows, err := s.pool.Query(ctx, sql, w.custom()...)
	if err != nil {
		return nil, fmt.Errorf("pgaudit: query: %w", err)
	}
	res := &auth.AuditResult{Events: []auth.AuditEvent{}}
	var last cursor
	more := false
	for rows.Next() {
		if len(res.Events) == limit {
			more = true
			break
		}
		var b []byte
		if err := rows.Scan(&last.ts, &last.id, &b); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pgaudit: query: %w", err)
		}
		var e auth.AuditEvent
		if err := json.Unmarshal(b, &e); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pgaudit: decode %q: %w", last.id, err)
		}
		res.Events = append(res.Events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgaudit: query: %w", err)
	}
	if more {
		res.NextCursor = last.encode()
	}
	n := offset + len(res.Events)
	if hasCursor || more || len(res.Events) == 0 {
		c := <-countDone
		if c.err != nil {
			return nil, fmt.Errorf("pgaudit: query: count: %w", c.err)
		}
		n = c.n
	} // else the page holds the last match: everything is counted.
	res.Total, res.TotalCapped = min(n, totalCap), n > totalCap
	return res, nil
}

// dimsOnly reports whether f filters on two or more of actor type,
// outcome and action (and time) and nothing else: its exact count sums
// the hourly counts, which costs less than visiting up to the cap of
// events through a combination of indexes. A filter on one of them (or on
// time alone) reads one index, where a count stopping at the cap costs
// less than summing every hour of the range.
func dimsOnly(f auth.AuditFilter) bool {
	if f.ActorID != "" || f.ResourceType != "" || f.ResourceID != "" || f.Text != "" {
		return false
	}
	w := &where{}
	addDims(w, f)
	return len(w.conds) >= 2
}

// countUpTo counts the events matching w, stopping at most: a capped
// count reads at most that many index entries whatever the filter.
func (s *Store) countUpTo(ctx context.Context, w *where, most int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM authhost_audit WHERE %s LIMIT %d) AS m", w, most), w.custom()...).Scan(&n)
	return n, err
}

// count counts every match of f (Count; Query caps its count with
// countUpTo instead). A filter on actor type, outcome, action
// and time only sums authhost_audit_counts over the whole hours of its
// range and counts the events of the partial hours at its ends; any other
// filter counts events.
func (s *Store) count(ctx context.Context, f auth.AuditFilter) (int, error) {
	var n int64
	if f.ActorID != "" || f.ResourceType != "" || f.ResourceID != "" || f.Text != "" {
		w, err := s.compile(ctx, f)
		if err != nil {
			return 0, err
		}
		err = s.pool.QueryRow(ctx, "SELECT count(*) FROM authhost_audit WHERE "+w.String(), w.args...).Scan(&n)
		return int(n), err
	}
	// Whole hours [first, last]; math.MinInt64/MaxInt64 when unbounded.
	first, last := int64(math.MinInt64), int64(math.MaxInt64)
	if !f.Start.IsZero() {
		first = ceilDiv(f.Start.UnixNano(), hourNanos)
	}
	if !f.End.IsZero() {
		last = (f.End.UnixNano()+1)/hourNanos - 1
	}
	if first > last {
		w, err := s.compile(ctx, f)
		if err != nil {
			return 0, err
		}
		err = s.pool.QueryRow(ctx, "SELECT count(*) FROM authhost_audit WHERE "+w.String(), w.args...).Scan(&n)
		return int(n), err
	}
	w := &where{}
	addDims(w, f)
	sums := w.since(0)
	w.add("hour BETWEEN ? AND ?", first, last)
	hours := w.since(len(w.conds) - 1)
	k := len(w.conds)
	addDims(w, f)
	dims := w.since(k)
	var edges []string
	if !f.Start.IsZero() {
		k = len(w.conds)
		w.add("ts >= ? AND ts < ?", f.Start.UnixNano(), first*hourNanos)
		edges = append(edges, w.since(k))
	}
	if !f.End.IsZero() {
		k = len(w.conds)
		w.add("ts >= ? AND ts <= ?", (last+1)*hourNanos, f.End.UnixNano())
		edges = append(edges, w.since(k))
	}
	edge := "FALSE"
	if len(edges) > 0 {
		edge = "(" + strings.Join(edges, ") OR (") + ")"
	}
	sql := fmt.Sprintf(`SELECT (SELECT coalesce(sum(n), 0) FROM authhost_audit_counts WHERE %s AND %s)::bigint
		+ (SELECT count(*) FROM authhost_audit WHERE %s AND (%s))`, sums, hours, dims, edge)
	err := s.pool.QueryRow(ctx, sql, w.args...).Scan(&n)
	return int(n), err
}

// ceilDiv is a/b rounded up, for b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b > 0 {
		q++
	}
	return q
}

// Count implements auth.AuditStore.
func (s *Store) Count(ctx context.Context, f auth.AuditFilter) (int, error) {
	n, err := s.count(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("pgaudit: count: %w", err)
	}
	return n, nil
}

// DeleteOlderThan implements auth.AuditStore: it removes events more than
// days×24h old in batches, each its own short statement, so writers never
// wait behind a long delete. days must be at least 1.
func (s *Store) DeleteOlderThan(ctx context.Context, days int) (int, error) {
	if days < 1 {
		return 0, auth.Errorf(auth.CodeInvalidRequest, "audit: retention must be at least 1 day, got %d", days)
	}
	cutoff := s.now().Add(-time.Duration(days) * 24 * time.Hour).UnixNano()
	total := 0
	for {
		var n int
		err := s.pool.QueryRow(ctx, `WITH d AS (
				DELETE FROM authhost_audit WHERE id IN (
					SELECT id FROM authhost_audit WHERE ts < $1 ORDER BY ts LIMIT $2)
				RETURNING ts, actor_type, outcome, action),
			c AS (
				INSERT INTO authhost_audit_counts (hour, actor_type, outcome, action, shard, n)
				SELECT ts / $3, actor_type, outcome, action, -1, -count(*) FROM d GROUP BY 1, 2, 3, 4
				ON CONFLICT (hour, actor_type, outcome, action, shard) DO UPDATE SET n = authhost_audit_counts.n + EXCLUDED.n)
			SELECT count(*) FROM d`, cutoff, deleteBatch, hourNanos).Scan(&n)
		if err != nil {
			return total, fmt.Errorf("pgaudit: delete old events: %w", err)
		}
		total += n
		if n < deleteBatch {
			break
		}
	}
	// Buckets whose events are all gone.
	if _, err := s.pool.Exec(ctx, `DELETE FROM authhost_audit_counts WHERE (hour, actor_type, outcome, action) IN (
		SELECT hour, actor_type, outcome, action FROM authhost_audit_counts WHERE hour <= $1
		GROUP BY 1, 2, 3, 4 HAVING sum(n) = 0)`, cutoff/hourNanos); err != nil {
		return total, fmt.Errorf("pgaudit: delete old counts: %w", err)
	}
	return total, nil
}

// Export implements auth.AuditStore: the rows stream from one query,
// newest first, and each is written as it arrives. JSON lines are the
// stored JSON as is; CSV is audit.CSVHeader and audit.CSVRow.
func (s *Store) Export(ctx context.Context, f auth.AuditFilter, format auth.ExportFormat, w io.Writer) error {
	var write func(b []byte) error
	var flush func() error
	switch format {
	case auth.ExportJSONL:
		bw := bufio.NewWriterSize(w, 64<<10)
		write = func(b []byte) error {
			if _, err := bw.Write(b); err != nil {
				return err
			}
			return bw.WriteByte('\n')
		}
		flush = bw.Flush
	case auth.ExportCSV:
		cw := csv.NewWriter(w)
		header := audit.CSVHeader()
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("pgaudit: export: %w", err)
		}
		row := make([]string, len(header))
		write = func(b []byte) error {
			var e auth.AuditEvent
			if err := json.Unmarshal(b, &e); err != nil {
				return err
			}
			audit.CSVRow(row, &e)
			return cw.Write(row)
		}
		flush = func() error { cw.Flush(); return cw.Error() }
	default:
		return auth.Errorf(auth.CodeInvalidRequest, "audit: unknown export format %q (want %q or %q)", format, auth.ExportJSONL, auth.ExportCSV)
	}
	wh, err := s.compile(ctx, f)
	if err != nil {
		return fmt.Errorf("pgaudit: export: %w", err)
	}
	rows, err := s.pool.Query(ctx, "SELECT event FROM authhost_audit WHERE "+wh.String()+" ORDER BY ts DESC, id DESC", wh.args...)
	if err != nil {
		return fmt.Errorf("pgaudit: export: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		// RawValues is valid until the next row: written before that.
		if err := write(rows.RawValues()[0]); err != nil {
			return fmt.Errorf("pgaudit: export: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgaudit: export: %w", err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("pgaudit: export: %w", err)
	}
	return nil
}
