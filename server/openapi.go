package server

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OpenAPIVersion is the version of the OpenAPI specification the document
// follows.
const OpenAPIVersion = "3.0.3"

// responseTypes are the Go types of the JSON answers, by schema name; their
// schemas are made from the types themselves.
var responseTypes = map[string]reflect.Type{
	"SearchResponse": reflect.TypeFor[SearchResponse](),
	"Item":           reflect.TypeFor[ItemResponse](),
	"StatsResponse":  reflect.TypeFor[StatsResponse](),
	"Error":          reflect.TypeFor[ErrorBody](),
	"Health":         reflect.TypeFor[map[string]string](),
	"Status":         reflect.TypeFor[map[string]bool](),
}

// OpenAPI returns the server's OpenAPI 3 document, made from the same route
// table that registers the handlers.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routeTable() {
		ops := map[string]any{}
		for _, m := range rt.methods {
			ops[strings.ToLower(m)] = s.operation(&rt, m)
		}
		paths[rt.docPathOf()] = ops
	}
	schemas := map[string]any{}
	for name, t := range responseTypes {
		schemas[name] = schemaOf(t)
	}
	return map[string]any{
		"openapi": OpenAPIVersion,
		"info": map[string]any{
			"title":   "mmsearch",
			"version": "1",
			"description": "Multimodal search over a photo library: queries are vector arithmetic over text, indexed items (@ID) " +
				"and uploaded pictures ($upload). Every error is {\"error\":{\"code\",\"message\"[,\"position\",\"length\",\"query\"]}}.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "the server's --token, when it has one"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie, "description": "set by POST /api/login or /?token="},
			},
		},
	}
}

// operation documents one method of a route.
func (s *Server) operation(rt *route, method string) map[string]any {
	op := map[string]any{
		"summary":     rt.summary,
		"operationId": operationID(method, rt.docPathOf()),
	}
	jsonBody := slices.Contains(rt.jsonBody, method)
	var params []any
	props := map[string]any{}
	var required []string
	for _, p := range rt.params {
		if p.in == "query" && jsonBody {
			props[p.name] = paramSchema(&p)
			if p.required {
				required = append(required, p.name)
			}
			continue
		}
		doc := map[string]any{"name": p.name, "in": p.in, "description": p.doc, "schema": paramSchema(&p)}
		if p.required || p.in == "path" {
			doc["required"] = true
		}
		params = append(params, doc)
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	switch {
	case jsonBody:
		schema := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			schema["required"] = required
		}
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
	case rt.upload:
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
			"multipart/form-data": map[string]any{"schema": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"image": map[string]any{"type": "array", "maxItems": 9, "items": map[string]any{"type": "string", "format": "binary"},
						"description": "the pictures, $upload1 to $upload9 in order; all together within the upload limit"},
					"q": map[string]any{"type": "string", "maxLength": 4096, "description": "the query, when not in the URL"},
				},
				"required": []string{"image"},
			}},
			"image/*":                  map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}},
			"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}},
		}}
	}
	ok := map[string]any{"description": "success"}
	switch {
	case responseTypes[rt.response] != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + rt.response}}}
	case rt.response != "":
		ok["content"] = map[string]any{rt.response: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
	}
	op["responses"] = map[string]any{
		"200":     ok,
		"default": map[string]any{"description": "an error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}},
	}
	if rt.public {
		op["security"] = []any{}
	} else {
		op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}}
	}
	return op
}

// operationID names an operation: "get /api/items/{id}/thumb" →
// "getApiItemsIdThumb".
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, f := range strings.FieldsFunc(path, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		b.WriteString(strings.ToUpper(f[:1]) + f[1:])
	}
	return b.String()
}

// paramSchema is the JSON schema of a parameter's values.
func paramSchema(p *param) map[string]any {
	sc := map[string]any{"type": string(p.typ)}
	if p.bounded {
		sc["minimum"], sc["maximum"] = p.min, p.max
	}
	if p.maxLen > 0 {
		sc["maxLength"] = p.maxLen
	}
	if p.enum != nil {
		if p.typ == tInteger {
			var vs []int
			for _, e := range p.enum {
				n, _ := strconv.Atoi(e)
				vs = append(vs, n)
			}
			sc["enum"] = vs
		} else {
			sc["enum"] = p.enum
		}
	}
	if p.def != nil {
		sc["default"] = p.def
	}
	return sc
}

// schemaOf is the JSON schema of what encoding/json makes of a value of t.
func schemaOf(t reflect.Type) map[string]any {
	if t == reflect.TypeFor[time.Time]() {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		sc := schemaOf(t.Elem())
		sc["nullable"] = true
		return sc
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		addFields(t, props)
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

// addFields adds the JSON fields of struct type t (embedded ones
// included) to props.
func addFields(t reflect.Type, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, props)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaOf(f.Type)
	}
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}
