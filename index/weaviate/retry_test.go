package weaviate

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestTransient pins which failures a request is sent again after: a
// timeout or transport error while the caller still waits, 5xx and 429;
// not a 4xx, and nothing once the caller's context is done.
func TestTransient(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	timeout := fmt.Errorf("weaviate: POST /v1/batch/objects: %w", context.DeadlineExceeded)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"client timeout", live, timeout, true},
		{"connection refused", live, errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), true},
		{"HTTP 500", live, &errStatus{Code: 500}, true},
		{"HTTP 503", live, &errStatus{Code: 503}, true},
		{"HTTP 429", live, &errStatus{Code: 429}, true},
		{"HTTP 422", live, &errStatus{Code: 422}, false},
		{"HTTP 401", live, &errStatus{Code: 401}, false},
		{"caller gone", done, timeout, false},
		{"caller gone, HTTP 500", done, &errStatus{Code: 500}, false},
	} {
		if got := transient(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: transient = %v, want %v", tc.name, got, tc.want)
		}
	}
}
