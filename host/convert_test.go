package host

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
)

// fill sets every field reachable from v to a non-zero value derived from
// its path, so conversions that drop a field are caught.
func fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2030, 1, 2, 3, 4, len(path)%60, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.String:
		v.SetString(path)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(len(path)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(path))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0), path+"[0]")
	case reflect.Map:
		v.Set(reflect.ValueOf(map[string]any{"k": path}))
	default:
		t.Fatalf("fill: %s: unhandled kind %s", path, v.Kind())
	}
}

// zeroFields returns the paths of the zero-valued fields reachable from v.
func zeroFields(v reflect.Value, path string) []string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return []string{path}
		}
		return zeroFields(v.Elem(), path)
	}
	if v.Kind() == reflect.Struct && v.Type() != reflect.TypeOf(time.Time{}) {
		var out []string
		for i := range v.NumField() {
			out = append(out, zeroFields(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
		return out
	}
	if v.IsZero() {
		return []string{path}
	}
	return nil
}

// TestConvertRoundTrip checks every conversion between the ABI's wire types
// and the domain's: with all input fields set, no output field is zero and
// a round trip gives the input back.
func TestConvertRoundTrip(t *testing.T) {
	t.Parallel()
	roundTrip := func(name string, in any, there func(any) any, back func(any) any) {
		t.Run(name, func(t *testing.T) {
			v := reflect.New(reflect.TypeOf(in)).Elem()
			fill(t, v, "")
			out := there(v.Interface())
			if z := zeroFields(reflect.ValueOf(out), ""); len(z) > 0 {
				t.Errorf("fields lost: %s", strings.Join(z, ", "))
			}
			if back != nil {
				if got := back(out); !reflect.DeepEqual(got, v.Interface()) {
					t.Errorf("round trip:\n got %#v\nwant %#v", got, v.Interface())
				}
			}
		})
	}
	roundTrip("user", auth.User{}, func(v any) any { return userToABI(v.(auth.User)) }, func(v any) any { return userFromABI(v.(abi.User)) })
	roundTrip("session", auth.Session{}, func(v any) any { return sessionToABI(v.(auth.Session)) }, func(v any) any { return sessionFromABI(v.(abi.Session)) })
	roundTrip("audit event", auth.AuditEvent{}, func(v any) any { return auditToABI(v.(auth.AuditEvent)) }, func(v any) any { return auditFromABI(v.(abi.AuditEvent)) })
	roundTrip("tokens", abi.Tokens{}, func(v any) any { return tokensFromABI(v.(abi.Tokens)) }, nil)
	roundTrip("acl grant", abi.ACLGrant{}, func(v any) any { return grantFromABI(v.(abi.ACLGrant)) }, nil)
	roundTrip("audit export", abi.AuditExport{}, func(v any) any { return auditExportFromABI(v.(abi.AuditExport)) }, nil)
	roundTrip("credentials", abi.CredentialsResult{}, func(v any) any { return *credentialsFromABI(v.(abi.CredentialsResult)) }, nil)
	if got := userPtrFromABI(nil); got != nil {
		t.Errorf("userPtrFromABI(nil) = %v", got)
	}
	if got := sessionPtrFromABI(nil); got != nil {
		t.Errorf("sessionPtrFromABI(nil) = %v", got)
	}
}
