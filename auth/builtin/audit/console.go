// Package audit holds authhost's built-in audit loggers: a console logger
// writing text or JSON lines, and an audit store on store.Store that can be
// queried, counted, exported and pruned.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/authhost/authhost/auth"
)

// ConsoleOptions configures a Console logger.
type ConsoleOptions struct {
	// Prefix starts every text line; "" means "[audit]".
	Prefix string
	// JSON writes one JSON object per line instead of text.
	JSON bool
	// Outcomes, when set, keeps only events with one of these outcomes.
	Outcomes []string
	// ActionPatterns, when set, keeps only events whose action matches one
	// of these patterns: exact, or with '*' matching any run of characters
	// (e.g. "auth.*").
	ActionPatterns []string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Console is an auth.AuditLogger writing one line per event to an
// io.Writer. Text lines read
//
//	[audit] 2026-01-02T15:04:05Z ✓ user:alice@example.com auth.sign-in on agent:a1 (12ms)
//
// with ✓ for success, ✗ for failure and ⊘ for denied.
type Console struct {
	mu       sync.Mutex
	w        io.Writer
	prefix   string
	json     bool
	outcomes []string
	patterns []*regexp.Regexp
	now      func() time.Time
}

var _ auth.AuditLogger = (*Console)(nil)

// NewConsole returns a console logger writing to w.
func NewConsole(w io.Writer, opts ConsoleOptions) *Console {
	c := &Console{w: w, prefix: opts.Prefix, json: opts.JSON, outcomes: slices.Clone(opts.Outcomes), now: opts.Now}
	if c.prefix == "" {
		c.prefix = "[audit]"
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, p := range opts.ActionPatterns {
		c.patterns = append(c.patterns, wildcard(p))
	}
	return c
}

// wildcard compiles an action pattern: '*' matches any run of characters,
// everything else is literal, and the match is anchored at both ends.
func wildcard(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

func (c *Console) keep(e auth.AuditEvent) bool {
	if len(c.outcomes) > 0 && !slices.Contains(c.outcomes, e.Outcome) {
		return false
	}
	if len(c.patterns) == 0 {
		return true
	}
	for _, re := range c.patterns {
		if re.MatchString(e.Action) {
			return true
		}
	}
	return false
}

// Log implements auth.AuditLogger. Events the filters drop are ignored
// without error; a missing id or timestamp is filled in.
func (c *Console) Log(_ context.Context, e auth.AuditEvent) error {
	if !c.keep(e) {
		return nil
	}
	Fill(&e, c.now)
	var line []byte
	if c.json {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("audit: console: %w", err)
		}
		line = append(b, '\n')
	} else {
		line = []byte(c.text(e))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.w.Write(line); err != nil {
		return fmt.Errorf("audit: console: %w", err)
	}
	return nil
}

func (c *Console) text(e auth.AuditEvent) string {
	mark := "✓"
	switch e.Outcome {
	case auth.OutcomeFailure:
		mark = "✗"
	case auth.OutcomeDenied:
		mark = "⊘"
	}
	who := e.Actor.Email
	if who == "" {
		who = e.Actor.ID
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s:%s %s", c.prefix, e.Timestamp.UTC().Format(time.RFC3339), mark, e.Actor.Type, who, e.Action)
	if e.Resource != nil {
		fmt.Fprintf(&b, " on %s:%s", e.Resource.Type, e.Resource.ID)
	}
	if e.DurationMS > 0 {
		fmt.Fprintf(&b, " (%dms)", e.DurationMS)
	}
	b.WriteByte('\n')
	// Keep one event on one line whatever the fields contain.
	s := b.String()
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s[:len(s)-1]) + "\n"
}

// Fill sets a missing id (time-ordered UUIDv7) and timestamp (now).
func Fill(e *auth.AuditEvent, now func() time.Time) {
	if e.Timestamp.IsZero() {
		e.Timestamp = now()
	}
	e.Timestamp = e.Timestamp.UTC()
	if e.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			id = uuid.New()
		}
		e.ID = id.String()
	}
}
