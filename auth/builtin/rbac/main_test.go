package rbac_test

import (
	"testing"

	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
)

// TestMain stops the PostgreSQL cluster that the postgres backend of
// internal/testenv/stores starts.
func TestMain(m *testing.M) { pgtest.Main(m) }
