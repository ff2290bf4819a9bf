package walk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// longName is the longest file name Linux allows.
var longName = strings.Repeat("n", 251) + ".jpg"

type tree struct {
	dirs  []string
	files map[string]string // path → contents
	links map[string]string // path → target
}

func (tr tree) build(t *testing.T, base string) {
	t.Helper()
	for _, d := range tr.dirs {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, c := range tr.files {
		full := filepath.Join(base, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range tr.links {
		if err := os.Symlink(target, filepath.Join(base, p)); err != nil {
			t.Fatal(err)
		}
	}
}

// result is what a walk found, with paths relative to base.
type result struct {
	files  []string
	issues []string // "path: error"
	byPath map[string]File
	errs   map[string]error
}

func walkTree(t *testing.T, base string, roots []string, opts Options) result {
	t.Helper()
	res := result{byPath: map[string]File{}, errs: map[string]error{}}
	rel := func(p string) string {
		r, err := filepath.Rel(base, p)
		if err != nil || strings.HasPrefix(r, "..") {
			return p
		}
		return r
	}
	opts.OnError = func(path string, err error) {
		res.issues = append(res.issues, rel(path)+": "+kind(err))
		res.errs[rel(path)] = err
	}
	err := Walk(context.Background(), roots, opts, func(f File) error {
		if !filepath.IsAbs(f.Path) || filepath.Clean(f.Path) != f.Path {
			t.Errorf("path %q is not absolute and clean", f.Path)
		}
		res.files = append(res.files, rel(f.Path))
		res.byPath[rel(f.Path)] = f
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return res
}

// kind names the class of a reported error.
func kind(err error) string {
	switch {
	case errors.Is(err, ErrSymlinkLoop):
		return "loop"
	case errors.Is(err, ErrAlreadyVisited):
		return "repeat"
	case errors.Is(err, ErrNotRegular):
		return "not regular"
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	case errors.Is(err, fs.ErrPermission):
		return "permission"
	}
	return "other: " + err.Error()
}

func TestWalkTree(t *testing.T) {
	base := t.TempDir()
	tree{
		dirs: []string{"root/empty"},
		files: map[string]string{
			"root/a.jpg":             "a",
			"root/b.txt":             "not filtered by extension",
			"root/sub/c.png":         "cc",
			"root/sub/deeper/d.gif":  "ddd",
			"root/.hidden/x.jpg":     "x",
			"root/.dot.jpg":          "x",
			"root/\xff\xfe.jpg":      "non-UTF-8 name",
			"root/" + longName:       "long name",
			"root/sub/é 🐶 space.jpg": "unicode",
			"outside/e.jpg":          "e",
		},
		links: map[string]string{
			"root/loop_self":    ".",
			"root/sub/up":       "../",
			"root/broken":       "nowhere.jpg",
			"root/selfie":       "selfie",
			"root/link_file":    "sub/c.png",
			"root/link_dir":     "sub/deeper",
			"root/link_out":     "../outside",
			"root/link_out2":    "../outside",
			"root/.hidden_link": "sub",
		},
	}.build(t, base)
	if err := syscall.Mkfifo(filepath.Join(base, "root", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	res := walkTree(t, base, []string{filepath.Join(base, "root")}, Options{})
	wantFiles := []string{
		"root/a.jpg",
		"root/b.txt",
		"root/link_file",
		"root/" + longName,
		"root/sub/c.png",
		"root/sub/deeper/d.gif",
		"root/sub/é 🐶 space.jpg",
		"root/\xff\xfe.jpg",
		// then the folders reached through links, in the order met
		"root/link_out/e.jpg",
	}
	if !slices.Equal(res.files, wantFiles) {
		t.Errorf("files:\n%q\nwant\n%q", res.files, wantFiles)
	}
	wantIssues := []string{
		"root/broken: missing",
		"root/selfie: loop",
		"root/link_dir: repeat",
		"root/link_out2: repeat",
		"root/loop_self: loop",
		"root/sub/up: loop",
	}
	if !slices.Equal(res.issues, wantIssues) {
		t.Errorf("issues:\n%q\nwant\n%q", res.issues, wantIssues)
	}
	if err := res.errs["root/broken"]; err == nil || !strings.Contains(err.Error(), `broken symbolic link to "nowhere.jpg"`) {
		t.Errorf("broken link error: %v", err)
	}
	var re *RevisitError
	if err := res.errs["root/sub/up"]; !errors.As(err, &re) || re.First != filepath.Join(base, "root") ||
		re.Path != filepath.Join(base, "root/sub/up") || !re.Loop() {
		t.Errorf("loop error: %#v", err)
	}
	if err := res.errs["root/link_dir"]; !errors.As(err, &re) || re.First != filepath.Join(base, "root/sub/deeper") {
		t.Errorf("repeat error: %#v", err)
	}

	// File metadata comes from the file a link points to.
	c, lf := res.byPath["root/sub/c.png"], res.byPath["root/link_file"]
	if c.Size != 2 || lf.Size != 2 || c.Dev != lf.Dev || c.Ino != lf.Ino || c.Ino == 0 {
		t.Errorf("c.png %+v, link_file %+v", c, lf)
	}
	fi, err := os.Stat(filepath.Join(base, "root/sub/deeper/d.gif"))
	if err != nil {
		t.Fatal(err)
	}
	if d := res.byPath["root/sub/deeper/d.gif"]; d.Size != 3 || d.ModTimeNs != fi.ModTime().UnixNano() {
		t.Errorf("d.gif = %+v, mtime want %d", d, fi.ModTime().UnixNano())
	}

	// With hidden names included, and the same tree again: same order.
	res = walkTree(t, base, []string{filepath.Join(base, "root")}, Options{IncludeHidden: true})
	if got := res.files[:2]; !slices.Equal(got, []string{"root/.dot.jpg", "root/.hidden/x.jpg"}) {
		t.Errorf("hidden files first: %q", res.files)
	}
	if !slices.Contains(res.issues, "root/.hidden_link: repeat") {
		t.Errorf("issues with hidden names: %q", res.issues)
	}
	if len(res.files) != len(wantFiles)+2 {
		t.Errorf("with hidden: %d files, want %d: %q", len(res.files), len(wantFiles)+2, res.files)
	}
}

func TestWalkRoots(t *testing.T) {
	base := t.TempDir()
	tree{
		files: map[string]string{
			"lib/a.jpg":        "a",
			"lib/sub/b.jpg":    "b",
			"lib/.secret.jpg":  "s",
			"other/.dir/c.jpg": "c",
		},
		links: map[string]string{"lib_link": "lib"},
	}.build(t, base)
	if err := syscall.Mkfifo(filepath.Join(base, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(base)
	tests := []struct {
		name   string
		roots  []string
		files  []string
		issues []string
	}{
		{"hidden file as root", []string{"lib/.secret.jpg"}, []string{"lib/.secret.jpg"}, nil},
		{"hidden folder as root", []string{"other/.dir"}, []string{"other/.dir/c.jpg"}, nil},
		{"relative and unclean", []string{"./lib/sub/../sub/"}, []string{"lib/sub/b.jpg"}, nil},
		{"missing root goes on", []string{"nope", "lib/a.jpg"}, []string{"lib/a.jpg"}, []string{"nope: missing"}},
		{"duplicate roots", []string{"lib", "lib/", "./lib"}, []string{"lib/a.jpg", "lib/sub/b.jpg"}, nil},
		{"overlapping roots", []string{"lib", "lib/sub"}, []string{"lib/a.jpg", "lib/sub/b.jpg"}, []string{"lib/sub: repeat"}},
		{"link as root", []string{"lib_link"}, []string{"lib_link/a.jpg", "lib_link/sub/b.jpg"}, nil},
		{"fifo as root", []string{"pipe"}, nil, []string{"pipe: not regular"}},
		{"no roots", nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := walkTree(t, base, tc.roots, Options{})
			if !slices.Equal(res.files, tc.files) {
				t.Errorf("files %q, want %q", res.files, tc.files)
			}
			if !slices.Equal(res.issues, tc.issues) {
				t.Errorf("issues %q, want %q", res.issues, tc.issues)
			}
		})
	}
}

func TestWalkStops(t *testing.T) {
	base := t.TempDir()
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("d/%02d.jpg", i)] = "x"
	}
	tree{files: files}.build(t, base)
	roots := []string{filepath.Join(base, "d")}

	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Walk(ctx, roots, Options{}, func(File) error {
		calls++
		if calls == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Errorf("cancelled walk: %v after %d files", err, calls)
	}

	calls = 0
	err = Walk(ctx, roots, Options{}, func(File) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("walk with a done context: %v after %d files", err, calls)
	}

	mine := errors.New("mine")
	calls = 0
	err = Walk(context.Background(), roots, Options{}, func(File) error {
		calls++
		if calls == 5 {
			return mine
		}
		return nil
	})
	if err != mine || calls != 5 {
		t.Errorf("fn error: %v after %d files", err, calls)
	}

	calls = 0
	err = Walk(context.Background(), roots, Options{}, func(File) error {
		calls++
		if calls == 2 {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("SkipAll: %v after %d files", err, calls)
	}

	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	if err := Walk(ctx, roots, Options{}, func(File) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired deadline: %v", err)
	}
}

// unreadableTree makes base/u with a readable folder, a folder with mode 000
// and a file next to them.
func unreadableTree(t *testing.T, base string) {
	t.Helper()
	tree{files: map[string]string{
		"u/a_open/1.jpg":   "1",
		"u/b_locked/2.jpg": "2",
		"u/c.jpg":          "3",
	}}.build(t, base)
	locked := filepath.Join(base, "u", "b_locked")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
}

func TestUnreadableFolder(t *testing.T) {
	base := t.TempDir()
	unreadableTree(t, base)
	res := walkTree(t, base, []string{filepath.Join(base, "u")}, Options{})
	if os.Geteuid() == 0 {
		// Root reads folders whatever their mode: everything is listed.
		if want := []string{"u/a_open/1.jpg", "u/b_locked/2.jpg", "u/c.jpg"}; !slices.Equal(res.files, want) || len(res.issues) != 0 {
			t.Errorf("as root: files %q issues %q, want files %q", res.files, res.issues, want)
		}
		t.Run("unprivileged", testUnreadableAsNobody)
		return
	}
	checkUnreadable(t, res.files, res.issues)
}

func checkUnreadable(t *testing.T, files, issues []string) {
	t.Helper()
	if want := []string{"u/a_open/1.jpg", "u/c.jpg"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
	if want := []string{"u/b_locked: permission"}; !slices.Equal(issues, want) {
		t.Errorf("issues %q, want %q", issues, want)
	}
}

// testUnreadableAsNobody runs the walk in a child process with the user id
// of "nobody", for whom mode 000 means what it says.
func testUnreadableAsNobody(t *testing.T) {
	const nobody = 65534
	// The child needs to reach the test binary and the tree: put both in a
	// folder anyone may enter.
	shared, err := os.MkdirTemp("", "walktest")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(shared, "walk.test")
	if err := os.WriteFile(child, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(shared, "tree")
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Fatal(err)
	}
	unreadableTree(t, base)

	cmd := exec.Command(child, "-test.run=^TestUnreadableHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "WALK_HELPER_BASE="+base)
	cmd.Dir = shared
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, fs.ErrPermission) {
			t.Skipf("cannot run a process as uid %d here: %v", nobody, err)
		}
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var got struct{ Files, Issues []string }
	for _, line := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(line, "RESULT "); ok {
			if err := json.Unmarshal([]byte(s), &got); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got.Files == nil {
		t.Fatalf("helper printed no result:\n%s", out)
	}
	checkUnreadable(t, got.Files, got.Issues)
}

// TestUnreadableHelper is the child process of testUnreadableAsNobody; it
// does nothing in a normal run.
func TestUnreadableHelper(t *testing.T) {
	base := os.Getenv("WALK_HELPER_BASE")
	if base == "" {
		t.Skip("helper process for TestUnreadableFolder")
	}
	res := walkTree(t, base, []string{filepath.Join(base, "u")}, Options{})
	b, err := json.Marshal(struct{ Files, Issues []string }{res.files, res.issues})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("RESULT %s\n", b)
}

// TestWalkSkips checks what the walk passes over on purpose, and that it says
// so: named pipes, sockets and links to them inside a folder (issue 19), and
// excluded folders however they are reached — as a subfolder, through a
// link, under another spelling, or named as a root or inside one.
func TestWalkSkips(t *testing.T) {
	base := t.TempDir()
	tree{
		files: map[string]string{
			"root/a.jpg":            "a",
			"root/lib/library.db":   "db",
			"root/lib/thumbs/1.png": "thumb",
			"root/sub/cache/c.png":  "cached",
			"root/sub/b.jpg":        "b",
			"elsewhere/lib2/x.jpg":  "x",
			"elsewhere/outside.jpg": "o",
		},
		links: map[string]string{
			"root/link-to-lib":  "lib",
			"root/link-to-lib2": "../elsewhere/lib2",
		},
	}.build(t, base)
	root := filepath.Join(base, "root")
	if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("pipe", filepath.Join(root, "link-to-pipe")); err != nil {
		t.Fatal(err)
	}
	sock, err := net.Listen("unix", filepath.Join(root, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	exclude := []string{
		filepath.Join(root, "lib"),
		filepath.Join(root, "sub", "..", "sub", "cache"), // another spelling
		filepath.Join(base, "elsewhere", "lib2"),         // reached through a link
		filepath.Join(base, "absent"),                    // ignored
	}

	tests := []struct {
		name      string
		roots     []string
		wantFiles []string
		wantSkips []string
	}{
		{
			name:      "inside a root",
			roots:     []string{root},
			wantFiles: []string{"root/a.jpg", "root/sub/b.jpg"},
			wantSkips: []string{
				"root/lib: excluded",
				"root/link-to-pipe: not regular (a link to a named pipe)",
				"root/pipe: not regular (a named pipe)",
				"root/sock: not regular (a socket)",
				"root/sub/cache: excluded",
				"root/link-to-lib: excluded",
				"root/link-to-lib2: excluded",
			},
		},
		{
			name:      "named as roots",
			roots:     []string{filepath.Join(root, "lib"), filepath.Join(root, "lib", "thumbs"), filepath.Join(root, "lib", "library.db"), filepath.Join(root, "link-to-lib"), filepath.Join(base, "elsewhere")},
			wantFiles: []string{"elsewhere/outside.jpg"},
			wantSkips: []string{"root/lib: excluded", "root/lib/thumbs: excluded", "root/lib/library.db: excluded", "root/link-to-lib: excluded", "elsewhere/lib2: excluded"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var skips []string
			res := walkTree(t, base, tc.roots, Options{Exclude: exclude, OnSkip: func(path string, why error) {
				r, _ := filepath.Rel(base, path)
				switch {
				case errors.Is(why, ErrExcluded):
					skips = append(skips, r+": excluded")
				case errors.Is(why, ErrNotRegular):
					_, detail, _ := strings.Cut(why.Error(), ErrNotRegular.Error()+" ")
					skips = append(skips, r+": not regular "+detail)
				default:
					skips = append(skips, r+": "+why.Error())
				}
			}})
			if !slices.Equal(res.files, tc.wantFiles) {
				t.Errorf("files %q, want %q", res.files, tc.wantFiles)
			}
			if len(res.issues) != 0 {
				t.Errorf("issues %q, want none", res.issues)
			}
			if !slices.Equal(skips, tc.wantSkips) {
				t.Errorf("skips %q, want %q", skips, tc.wantSkips)
			}
		})
	}
}
