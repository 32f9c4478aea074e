package server

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// requestSchemas are the JSON request bodies named by the route table.
var requestSchemas = map[string]any{
	"Credentials":          object(map[string]any{"email": str("email"), "password": str("")}, "email", "password"),
	"SignUp":               object(map[string]any{"email": str("email"), "password": str(""), "name": str("")}, "email", "password"),
	"PasswordResetRequest": object(map[string]any{"email": str("email")}, "email"),
	"PasswordResetConfirm": object(map[string]any{"token": str(""), "newPassword": str("")}, "token", "newPassword"),
	"Roles":                object(map[string]any{"roles": map[string]any{"type": "array", "items": str("")}}, "roles"),
	"Grant": object(map[string]any{"subject": str(""), "resource": resourceSchema,
		"actions": map[string]any{"type": "array", "items": str(""), "minItems": 1}}, "subject", "resource", "actions"),
	"AuditExport": object(map[string]any{"rangeStart": str("date-time"), "rangeEnd": str("date-time"),
		"actions": map[string]any{"type": "array", "items": str("")}, "actorIds": map[string]any{"type": "array", "items": str("")},
		"targets": map[string]any{"type": "array", "items": str("")}}, "rangeStart", "rangeEnd"),
	"Revoke": object(map[string]any{"subject": str(""), "resource": resourceSchema,
		"actions": map[string]any{"type": "array", "items": str("")}}, "subject", "resource"),
}

// responseSchemas are the JSON response bodies named by the route table.
var responseSchemas = map[string]any{
	"AuditEvent": object(map[string]any{
		"id": str(""), "timestamp": str("date-time"),
		"actor":      object(map[string]any{"type": str(""), "id": str(""), "email": str(""), "ip": str(""), "userAgent": str("")}, "type", "id"),
		"action":     str(""),
		"resource":   object(map[string]any{"type": str(""), "id": str(""), "name": str("")}, "type", "id"),
		"outcome":    str(""),
		"metadata":   map[string]any{"type": "object", "additionalProperties": true},
		"durationMs": map[string]any{"type": "integer"},
	}, "id", "timestamp", "actor", "action", "outcome"),
	"AuditPage": object(map[string]any{
		"events": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/AuditEvent"}},
		"total": map[string]any{"type": "integer", "minimum": 0,
			"description": "Matching events: exact when totalCapped is false, else the cap (more match)."},
		"totalCapped": map[string]any{"type": "boolean",
			"description": "The count stopped at the store's cap (10,000 for the built-in stores): more than total events match."},
		"offset":     map[string]any{"type": "integer"},
		"limit":      map[string]any{"type": "integer"},
		"hasMore":    map[string]any{"type": "boolean"},
		"nextCursor": str(""),
	}, "events", "total", "totalCapped", "offset", "limit", "hasMore"),
}

var resourceSchema = object(map[string]any{"type": str(""), "id": str("")}, "type", "id")

func str(format string) map[string]any {
	s := map[string]any{"type": "string"}
	if format != "" {
		s["format"] = format
	}
	return s
}

func object(props map[string]any, required ...string) map[string]any {
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// openAPI builds the OpenAPI 3.1 document from the route table.
func (s *Server) openAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routeTable() {
		p := s.cfg.APIPrefix + rt.path
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": str("")})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": str("")})
		}
		responses := map[string]any{}
		for code, desc := range rt.statuses {
			resp := map[string]any{"description": desc}
			if rt.response != "" && code >= 200 && code < 300 {
				resp["content"] = map[string]any{"application/json": map[string]any{
					"schema": map[string]any{"$ref": "#/components/schemas/" + rt.response}}}
			}
			responses[strconv.Itoa(code)] = resp
		}
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
			"responses":   responses,
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + rt.body}}}}
		}
		if rt.auth {
			op["security"] = []any{map[string]any{"sessionCookie": []string{}}, map[string]any{"bearer": []string{}}}
		}
		if rt.permission != "" {
			op["x-permission"] = rt.permission
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "authhost API", "version": "1.0.0"},
		"paths":   paths,
		"components": map[string]any{
			"schemas": schemas(),
			"securitySchemes": map[string]any{
				"sessionCookie": map[string]any{"type": "apiKey", "in": "cookie", "name": "authhost_session"},
				"bearer":        map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
	}
}

// schemas are the request and response schemas, for components.
func schemas() map[string]any {
	out := make(map[string]any, len(requestSchemas)+len(responseSchemas))
	for k, v := range requestSchemas {
		out[k] = v
	}
	for k, v := range responseSchemas {
		out[k] = v
	}
	return out
}

func operationID(rt route) string {
	parts := []string{strings.ToLower(rt.method)}
	for _, seg := range strings.Split(strings.Trim(rt.path, "/"), "/") {
		seg = strings.Trim(seg, "{}")
		for _, w := range strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '.' }) {
			parts = append(parts, strings.ToUpper(w[:1])+w[1:])
		}
	}
	return strings.Join(parts, "")
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.openAPI())
}
