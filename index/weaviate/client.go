package weaviate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxResponse bounds the body read from any Weaviate response (a search of
// MaxFetch neighbours with ids and distances is well under 2 MiB; one
// object with a 4,096-dimension vector under 100 KiB).
const maxResponse = 64 << 20

// errStatus is a response with an unexpected HTTP status.
type errStatus struct {
	Method, Path string
	Code         int
	Body         string
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("weaviate: %s %s: HTTP %d: %s", e.Method, e.Path, e.Code, e.Body)
}

// client sends REST requests to one Weaviate server.
type client struct {
	base   string // scheme://host
	apiKey string
	hc     *http.Client
}

func newClient(c Config) *client {
	return &client{base: c.Scheme + "://" + c.Host, apiKey: c.APIKey, hc: c.httpClient()}
}

// do sends a request with in (nil or marshalled as JSON) and decodes a 2xx
// body into out (when not nil). It returns the status code; a status that is
// not 2xx is an *errStatus.
func (c *client) do(ctx context.Context, method, path string, q url.Values, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("weaviate: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, fmt.Errorf("weaviate: %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("weaviate: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("weaviate: %s %s: read response: %w", method, path, err)
	}
	if len(data) > maxResponse {
		return resp.StatusCode, fmt.Errorf("weaviate: %s %s: response over %d bytes", method, path, maxResponse)
	}
	if resp.StatusCode/100 != 2 {
		msg := string(data)
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		return resp.StatusCode, &errStatus{Method: method, Path: path, Code: resp.StatusCode, Body: msg}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("weaviate: %s %s: decode response: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// isStatus reports whether err is an *errStatus with code.
func isStatus(err error, code int) bool {
	var e *errStatus
	return errors.As(err, &e) && e.Code == code
}

// gqlError is one error of a GraphQL response.
type gqlError struct {
	Message string `json:"message"`
}

// graphql runs a GraphQL query and decodes its data into out.
func (c *client) graphql(ctx context.Context, query string, out any) error {
	var resp struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/v1/graphql", nil, map[string]string{"query": query}, &resp); err != nil {
		return err
	}
	if len(resp.Errors) > 0 {
		return fmt.Errorf("weaviate: graphql: %s", resp.Errors[0].Message)
	}
	if err := json.Unmarshal(resp.Data, out); err != nil {
		return fmt.Errorf("weaviate: graphql: decode data: %w", err)
	}
	return nil
}
