package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/authhost/authhost/auth"
)

// pluginsPage is the data of /admin/plugins.
type pluginsPage struct {
	Plugins []PluginStatus
	// Degraded are plugin files that failed to load but that nothing
	// selects or configures.
	Degraded []DegradedPlugin
	// Sources says which provider serves each capability.
	Sources []capabilitySource
}

type capabilitySource struct {
	Capability string
	Providers  string
}

func (s *Server) pagePlugins(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.pageUser(w, r, auth.PermPluginsRead); !ok {
		return
	}
	p := pluginsPage{Plugins: s.cfg.Plugins(), Degraded: s.cfg.Degraded()}
	for c, names := range s.composed(r.Context()).Sources {
		p.Sources = append(p.Sources, capabilitySource{Capability: c, Providers: strings.Join(names, ", ")})
	}
	slices.SortFunc(p.Sources, func(a, b capabilitySource) int { return strings.Compare(a.Capability, b.Capability) })
	s.render(w, http.StatusOK, "plugins", s.newLayout(r, "Plugins", "plugins", p))
}
