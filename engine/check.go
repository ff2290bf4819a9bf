package engine

import (
	"context"
	"fmt"
)

// Check is a cheap health check of an open library, for a server's
// /healthz: the database file is intact (not truncated or overwritten
// behind the process's back) and the store answers a read. It scans no
// table.
func (l *Library) Check(ctx context.Context) error {
	if err := l.store.Check(ctx); err != nil {
		return fmt.Errorf("library %s: %w", l.dir, err)
	}
	return nil
}
