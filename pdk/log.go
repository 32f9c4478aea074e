package pdk

import (
	"context"

	"fmt"
	"log/slog"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk/wire"
)

// Log writes structured log records through the host's log function; the
// host adds the plugin name and routes them into its own slog output.
// Logging never fails a call: host errors are dropped.
//
//	pdk.Log.Info("user signed in", "user_id", u.ID)
var Log = slog.New(LogHandler())

// LogHandler returns a slog.Handler that writes through the host's log
// function, for callers that build their own *slog.Logger.
func LogHandler() slog.Handler { return logHandler{} }

type logHandler struct {
	attrs  []slog.Attr // pre-resolved attributes, already grouped
	groups []string    // open groups for attributes added later
}

func (logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	var recAttrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		recAttrs = append(recAttrs, a)
		return true
	})
	attrs := make(map[string]any, len(h.attrs)+len(recAttrs))
	for _, a := range h.attrs {
		addAttr(attrs, a)
	}
	addAttr(attrs, nest(h.groups, recAttrs))
	req := abi.LogRequest{Level: levelName(r.Level), Message: r.Message}
	if len(attrs) > 0 {
		req.Attrs = attrs
	}
	_ = callHost(abi.HostLog, req, nil)
	return nil
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := logHandler{groups: h.groups, attrs: append([]slog.Attr(nil), h.attrs...)}
	n.attrs = append(n.attrs, nest(h.groups, as))
	return n
}

func (h logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return logHandler{attrs: h.attrs, groups: append(append([]string(nil), h.groups...), name)}
}

// nest wraps as in the open groups; with no groups it returns a group attr
// with an empty key, which addAttr inlines.
func nest(groups []string, as []slog.Attr) slog.Attr {
	a := slog.Attr{Value: slog.GroupValue(as...)}
	for i := len(groups) - 1; i >= 0; i-- {
		a = slog.Attr{Key: groups[i], Value: slog.GroupValue(a)}
	}
	return a
}

func addAttr(m map[string]any, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		group := v.Group()
		if len(group) == 0 {
			return
		}
		if a.Key == "" {
			for _, g := range group {
				addAttr(m, g)
			}
			return
		}
		sub, ok := m[a.Key].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[a.Key] = sub
		}
		for _, g := range group {
			addAttr(sub, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	m[a.Key] = jsonValue(v)
}

func jsonValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		return v.Float64()
	case slog.KindBool:
		return v.Bool()
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	}
	x := v.Any()
	if err, ok := x.(error); ok {
		return err.Error()
	}
	if _, err := wire.Marshal(x); err != nil {
		return fmt.Sprint(x)
	}
	return x
}

func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
