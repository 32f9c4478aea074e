package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/builtin/rbac"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/store"
	pgstore "github.com/authhost/authhost/store/postgres"
)

// roleAssignments is what the roles command needs of the built-in RBAC
// manager: the manager itself over the data store (offline), or the admin
// roles routes of a running server (online).
type roleAssignments interface {
	RoleDefinitions(ctx context.Context) ([]auth.RoleDefinition, error)
	UserRoles(ctx context.Context, userID string) (roles []string, assigned bool, err error)
	SetUserRoles(ctx context.Context, userID string, roles []string) error
	ClearUserRoles(ctx context.Context, userID string) error
}

const rolesSynopsis = `roles list|assign|revoke [--config FILE] [--data-dir DIR] [--url URL --token TOKEN] ARGS
  roles list [USER_ID]           the role definitions, or a user's assignment
  roles assign USER_ID ROLE...   add roles to the user's assignment
  roles revoke USER_ID ROLE...   remove roles from it (none left: no roles)
  roles revoke --all USER_ID     remove the assignment: back to the default roles`

// cmdRoles lists and changes role assignments, offline in the data store
// (badger: the server must be stopped) or online through a running
// server's admin API with a token of a user holding users:write.
func cmdRoles(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintf(stdout, "usage: authhost %s\n", rolesSynopsis)
			return errHelp
		}
		return usageError{"roles: want list, assign or revoke"}
	}
	sub := args[0]
	fs := flag.NewFlagSet("roles "+sub, flag.ContinueOnError)
	cfgFile := fs.String("config", "", "YAML config file (its data_dir, store and rbac.roles)")
	dataDir := fs.String("data-dir", "", "data directory (overrides the config)")
	base := fs.String("url", "", "base URL of a running server: change roles through its admin API")
	token := fs.String("token", os.Getenv("AUTHHOST_TOKEN"), "session token of a user with users:write, for --url (default $AUTHHOST_TOKEN)")
	all := fs.Bool("all", false, "revoke: remove the whole assignment")
	pos, err := parseArgs(fs, args[1:], rolesSynopsis, stdout)
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(pos) <= 1 && !*all:
	case sub == "assign" && len(pos) >= 2 && !*all:
	case sub == "revoke" && (*all && len(pos) == 1 || !*all && len(pos) >= 2):
	case sub != "list" && sub != "assign" && sub != "revoke":
		return usageError{fmt.Sprintf("roles: unknown subcommand %q (want list, assign or revoke)", sub)}
	default:
		return usageError{"roles " + sub + ": wrong arguments; see authhost roles --help"}
	}
	var ra roleAssignments
	if *base != "" {
		if *cfgFile != "" || *dataDir != "" {
			return usageError{"roles: --url talks to a server: drop --config and --data-dir"}
		}
		if ra, err = newAPIRoles(*base, *token); err != nil {
			return fmt.Errorf("roles: %w", err)
		}
	} else {
		m, closeStore, err := openRoles(ctx, *cfgFile, *dataDir)
		if err != nil {
			return fmt.Errorf("roles: %w", err)
		}
		defer closeStore()
		ra = m
	}
	if err := runRoles(ctx, ra, sub, pos, *all, stdout); err != nil {
		return fmt.Errorf("roles %s: %w", sub, err)
	}
	return nil
}

// runRoles carries out one roles subcommand against ra.
func runRoles(ctx context.Context, ra roleAssignments, sub string, pos []string, all bool, stdout io.Writer) error {
	if sub == "list" && len(pos) == 0 {
		defs, err := ra.RoleDefinitions(ctx)
		if err != nil {
			return err
		}
		for _, d := range defs {
			fmt.Fprintf(stdout, "%-10s %s\n", d.ID, strings.Join(d.Permissions, " "))
		}
		return nil
	}
	userID := pos[0]
	roles, assigned, err := ra.UserRoles(ctx, userID)
	if err != nil {
		return err
	}
	switch {
	case sub == "assign":
		for _, r := range pos[1:] {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
		err = ra.SetUserRoles(ctx, userID, roles)
	case sub == "revoke" && all:
		err = ra.ClearUserRoles(ctx, userID)
	case sub == "revoke":
		if !assigned {
			return fmt.Errorf("user %q has no role assignment (it has the provider's or the default roles): assign the roles it should keep, or nothing to revoke", userID)
		}
		roles = slices.DeleteFunc(roles, func(r string) bool { return slices.Contains(pos[1:], r) })
		err = ra.SetUserRoles(ctx, userID, roles)
	}
	if err != nil {
		return err
	}
	if roles, assigned, err = ra.UserRoles(ctx, userID); err != nil {
		return err
	}
	switch {
	case !assigned:
		fmt.Fprintf(stdout, "%s: no assignment (the provider's or the default roles)\n", userID)
	case len(roles) == 0:
		fmt.Fprintf(stdout, "%s: no roles (assigned)\n", userID)
	default:
		fmt.Fprintf(stdout, "%s: %s\n", userID, strings.Join(roles, ", "))
	}
	return nil
}

// openRoles opens the configured store and the built-in RBAC manager over
// it with the configured role definitions; the func closes the store.
func openRoles(ctx context.Context, cfgFile, dataDir string) (*rbac.Manager, func(), error) {
	cfg := config.Defaults()
	if cfgFile != "" {
		var err error
		if cfg, err = config.Load(cfgFile, nil); err != nil {
			return nil, nil, err
		}
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	var st store.Store
	if cfg.Store.Driver == "postgres" {
		ps, err := pgstore.Open(ctx, cfg.Store.DSN, pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, nil, err
		}
		st = ps
	} else {
		if _, err := os.Stat(cfg.DataDir); err != nil {
			return nil, nil, fmt.Errorf("data dir: %w", err)
		}
		bs, err := openStore(cfg.DataDir)
		if err != nil {
			return nil, nil, err
		}
		st = bs
	}
	var defs []auth.RoleDefinition
	for _, r := range cfg.RBAC.Roles {
		defs = append(defs, auth.RoleDefinition{ID: r.ID, Name: r.Name, Description: r.Description, Permissions: r.Permissions, Inherits: r.Inherits})
	}
	m, err := rbac.New(st, rbac.Options{Roles: defs})
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	return m, func() { _ = st.Close() }, nil
}

// apiRoles is roleAssignments over a running server's admin API.
type apiRoles struct {
	base  *url.URL
	token string
	http  *http.Client
}

// newAPIRoles checks base and token and returns the API client.
func newAPIRoles(base, token string) (*apiRoles, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want the server's base URL (https://auth.example.com)", base)
	}
	if token == "" {
		return nil, fmt.Errorf("--url needs --token (or $AUTHHOST_TOKEN): the session token of a user with users:write")
	}
	return &apiRoles{base: u, token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// assignmentBody is the body of the role assignment routes.
type assignmentBody struct {
	Roles    []string `json:"roles"`
	Assigned bool     `json:"assigned"`
}

// do sends one request to the admin API and decodes a 2xx answer into out.
func (a *apiRoles) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base.String()+"/api"+path, body)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error, Message string }
		_ = json.Unmarshal(raw, &e)
		return fmt.Errorf("api: %s %s: %s: %s %s", method, path, resp.Status, e.Error, e.Message)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("api: %s %s: %w", method, path, err)
		}
	}
	return nil
}

func userRolesPath(userID string) string { return "/admin/users/" + url.PathEscape(userID) + "/roles" }

// RoleDefinitions implements roleAssignments.
func (a *apiRoles) RoleDefinitions(ctx context.Context) ([]auth.RoleDefinition, error) {
	var out struct {
		Roles []auth.RoleDefinition `json:"roles"`
	}
	err := a.do(ctx, http.MethodGet, "/admin/roles", nil, &out)
	return out.Roles, err
}

// UserRoles implements roleAssignments.
func (a *apiRoles) UserRoles(ctx context.Context, userID string) ([]string, bool, error) {
	var out assignmentBody
	err := a.do(ctx, http.MethodGet, userRolesPath(userID), nil, &out)
	return out.Roles, out.Assigned, err
}

// SetUserRoles implements roleAssignments.
func (a *apiRoles) SetUserRoles(ctx context.Context, userID string, roles []string) error {
	if roles == nil {
		roles = []string{}
	}
	return a.do(ctx, http.MethodPut, userRolesPath(userID), map[string][]string{"roles": roles}, nil)
}

// ClearUserRoles implements roleAssignments.
func (a *apiRoles) ClearUserRoles(ctx context.Context, userID string) error {
	return a.do(ctx, http.MethodDelete, userRolesPath(userID), nil, nil)
}
