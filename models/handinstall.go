package models

import (
	"fmt"
	"net/url"
	"strings"
)

// Hosts lists the hosts an entry's files are downloaded from, in the order
// they first appear.
func (e *Entry) Hosts() []string {
	var hosts []string
	seen := map[string]bool{}
	for _, f := range e.Files {
		u, err := url.Parse(f.URL)
		if err != nil || u.Host == "" || seen[u.Host] {
			continue
		}
		seen[u.Host] = true
		hosts = append(hosts, u.Host)
	}
	return hosts
}

// SizeText describes the entry's download size for a question or a
// message: "123.4 MB", or "at least 123.4 MB (2 of 5 files have no
// published size)" when some sizes are unknown.
func (e *Entry) SizeText() string {
	n, all := e.TotalSize()
	if all {
		return DecimalBytes(n)
	}
	unknown := 0
	for _, f := range e.Files {
		if f.Size <= 0 {
			unknown++
		}
	}
	if n == 0 {
		return fmt.Sprintf("size unknown: none of its %d files has a published size", len(e.Files))
	}
	return fmt.Sprintf("at least %s; %d of its %d files have no published size", DecimalBytes(n), unknown, len(e.Files))
}

// ImportHint tells how to install the entry by hand on a machine that
// cannot download it: which files to fetch elsewhere, where each goes in
// one folder, how to check them, and the `mmsearch models import` command
// that installs the folder under the entry's name.
func (e *Entry) ImportHint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "To install %s by hand, download these %d files on a machine with internet access into one folder DIR, each at the path shown:\n", e.Name, len(e.Files))
	for _, f := range e.Files {
		digest := "no published sha256"
		if f.SHA256 != "" {
			digest = "sha256 " + f.SHA256
		}
		size := ""
		if f.Size > 0 {
			size = DecimalBytes(f.Size) + ", "
		}
		fmt.Fprintf(&b, "  DIR/%s  (%s%s)\n      %s\n", f.Path, size, digest, redact(f.URL))
	}
	b.WriteString("check them with 'sha256sum', copy DIR here, and run:\n")
	layout := ""
	if e.Layout == LayoutHuggingFace || e.Layout == LayoutOpenCLIP {
		layout = " --layout " + e.Layout
	}
	fmt.Fprintf(&b, "  mmsearch models import --name %s%s DIR", e.Name, layout)
	return b.String()
}

// decimalBytes formats a byte count in decimal units (kB, MB, GB).
func DecimalBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}
