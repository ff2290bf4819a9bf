package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// docParam is a parameter as the OpenAPI document states it.
type docParam struct {
	Name     string         `json:"name"`
	In       string         `json:"in"`
	Required bool           `json:"required"`
	Schema   map[string]any `json:"schema"`
}

type docOperation struct {
	Parameters  []docParam     `json:"parameters"`
	RequestBody map[string]any `json:"requestBody"`
	Security    []any          `json:"security"`
}

// TestOpenAPIMatchesServer reads /api/openapi.json over real HTTP and
// checks it against the server it came from: every documented operation
// answers (with every documented parameter given a valid value at once),
// every bounded or enumerated parameter is checked by the handler with the
// documented bounds (a value just outside is a 400 naming it), operations
// documented as needing a token refuse requests without one, and paths the
// document does not list are 404s, so the server has no undocumented
// routes.
func TestOpenAPIMatchesServer(t *testing.T) {
	f := newFixture(t, 6)
	id := f.ids["colour00.png"]
	png := readPNG(t, f, "colour00.png")
	s := newTestServer(t, f.lib, Config{})
	addr, _, _ := serveInBackground(t, s)
	base := "http://" + addr
	locked := newTestServer(t, f.lib, Config{Token: testToken})
	lockedAddr, _, _ := serveInBackground(t, locked)

	code, body := getJSON(t, "GET", base+"/api/openapi.json", "", nil)
	if code != http.StatusOK {
		t.Fatalf("openapi.json: %d %s", code, body)
	}
	var doc struct {
		OpenAPI string                             `json:"openapi"`
		Paths   map[string]map[string]docOperation `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != OpenAPIVersion {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for _, want := range []string{"/api/search", "/api/search/image", "/api/items/{id}", "/api/items/{id}/thumb", "/api/items/{id}/file", "/api/items/{id}/preview", "/api/items", "/api/stats", "/healthz", "/api/openapi.json", "/api/login", "/"} {
		if doc.Paths[want] == nil {
			t.Errorf("the document lacks %s", want)
		}
	}

	// request builds a request for an operation with each parameter set
	// by values (the example when not in values).
	request := func(serverBase, path, method string, op docOperation, values map[string]string) *http.Request {
		t.Helper()
		q := url.Values{}
		fields := map[string]any{}
		u := path
		value := func(p docParam) (string, bool) {
			if v, ok := values[p.Name]; ok {
				return v, true
			}
			ex := exampleOf(t, s, path, p.Name)
			if p.Name == "id" {
				ex = fmt.Sprint(id)
			}
			if ex == "{path}" {
				ex = f.paths[id]
			}
			if p.Name == "q" && path == "/api/search/image" {
				ex = "$upload - " + ex
			}
			return ex, ex != ""
		}
		for _, p := range op.Parameters {
			v, ok := value(p)
			switch {
			case p.In == "path":
				u = strings.ReplaceAll(u, "{"+p.Name+"}", v)
			case ok && (p.Name != "token" || values["token"] != ""):
				q.Set(p.Name, v)
			}
		}
		var rb io.Reader
		ct := ""
		if op.RequestBody != nil {
			content := op.RequestBody["content"].(map[string]any)
			switch {
			case content["application/json"] != nil:
				props := content["application/json"].(map[string]any)["schema"].(map[string]any)["properties"].(map[string]any)
				for name, sc := range props {
					v, ok := value(docParam{Name: name})
					if !ok || name == "token" && values["token"] == "" {
						continue
					}
					switch sc.(map[string]any)["type"] {
					case "integer", "number", "boolean":
						fields[name] = json.RawMessage(v)
					default:
						fields[name] = v
					}
				}
				b, _ := json.Marshal(fields)
				rb, ct = strings.NewReader(string(b)), "application/json"
			case content["multipart/form-data"] != nil:
				var buf io.Reader
				buf, ct = formBody(t, formPart{"image", "a.png", string(png)})
				rb = buf
			}
		}
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		req, err := http.NewRequest(strings.ToUpper(method), serverBase+u, rb)
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		return req
	}
	send := func(req *http.Request) (int, string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	for path, ops := range doc.Paths {
		for method, op := range ops {
			t.Run(method+" "+path, func(t *testing.T) {
				// Every parameter at once, with valid values: 200.
				if code, b := send(request(base, path, method, op, nil)); code != http.StatusOK {
					t.Fatalf("with every parameter valid: %d %s", code, b)
				}
				// Each bounded or enumerated parameter, just out of bounds.
				params := op.Parameters
				if op.RequestBody != nil {
					if c, ok := op.RequestBody["content"].(map[string]any)["application/json"]; ok {
						for name, sc := range c.(map[string]any)["schema"].(map[string]any)["properties"].(map[string]any) {
							params = append(params, docParam{Name: name, In: "body", Schema: sc.(map[string]any)})
						}
					}
				}
				for _, p := range params {
					bad, ok := outOfBounds(p.Schema)
					if !ok || p.Name == "token" {
						continue
					}
					code, b := send(request(base, path, method, op, map[string]string{p.Name: bad}))
					if p.In == "path" {
						// A path that names nothing is refused or not found.
						if code != http.StatusNotFound && code != http.StatusBadRequest {
							t.Errorf("path %s=%s (outside the documented %v): %d %s, want 400 or 404", p.Name, bad, p.Schema, code, b)
						}
						continue
					}
					if code != http.StatusBadRequest || !strings.Contains(b, p.Name) {
						t.Errorf("%s=%s (outside the documented %v): %d %s, want a 400 naming %s", p.Name, bad, p.Schema, code, b, p.Name)
					}
				}
				// Without the token of a server that has one (the login
				// routes are given it as their parameter, which is how
				// they are used).
				code, _ := send(request("http://"+lockedAddr, path, method, op, map[string]string{"token": testToken}))
				if public := op.Security != nil && len(op.Security) == 0; public == (code == http.StatusUnauthorized) {
					t.Errorf("documented public=%v, but without a token the answer is %d", public, code)
				}
			})
		}
	}
	// Paths and methods the document does not list are not served.
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/nope"}, {"GET", "/api/items/1/other"}, {"GET", "/api/search/text"}, {"GET", "/other"},
		{"DELETE", "/api/items/1"}, {"PUT", "/api/search"}, {"GET", "/api/search/image"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		documented := doc.Paths[tc.path] != nil && doc.Paths[tc.path][strings.ToLower(tc.method)].Security != nil
		if code, _ := send(req); documented || (code != http.StatusNotFound && code != http.StatusMethodNotAllowed) {
			t.Errorf("%s %s: %d (documented %v), want 404 or 405", tc.method, tc.path, code, documented)
		}
	}
}

// exampleOf is the example value of a parameter in the route table.
func exampleOf(t *testing.T, s *Server, path, name string) string {
	for _, rt := range s.routeTable() {
		if rt.docPathOf() != path {
			continue
		}
		for _, p := range rt.params {
			if p.name == name {
				return p.example
			}
		}
	}
	t.Fatalf("%s has no parameter %s in the route table", path, name)
	return ""
}

// outOfBounds is a value just outside a documented schema, if it has
// bounds.
func outOfBounds(sc map[string]any) (string, bool) {
	if max, ok := sc["maximum"].(float64); ok {
		return fmt.Sprint(int64(max) + 1), true
	}
	if enum, ok := sc["enum"].([]any); ok && len(enum) > 0 {
		if sc["type"] == "integer" {
			return "3", true
		}
		return "none-of-these", true
	}
	if n, ok := sc["maxLength"].(float64); ok && n < 10000 {
		return strings.Repeat("x", int(n)+1), true
	}
	return "", false
}
