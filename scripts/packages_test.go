// Package scripts_test checks the set-up scripts against what the other
// scripts need. (The folder holds shell scripts; this is its only Go file.)
package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// debianPackage names the Debian package of each third-party Python module
// the project's scripts import.
var debianPackage = map[string]string{
	"PIL":     "python3-pil",
	"numpy":   "python3-numpy",
	"torch":   "python3-torch",
	"onnx":    "python3-onnx",
	"hnswlib": "python3-hnswlib",
	"faiss":   "python3-faiss",
}

// packageSets reads the `NAME) want+=(...)` lines of setup-debian-packages.sh.
func packageSets(t *testing.T) map[string]map[string]bool {
	b, err := os.ReadFile("setup-debian-packages.sh")
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]map[string]bool{}
	re := regexp.MustCompile(`(?m)^\s*(\w+)\)\s+want\+=\(([^)]*)\)`)
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		sets[m[1]] = map[string]bool{}
		for _, p := range strings.Fields(m[2]) {
			sets[m[1]][p] = true
		}
	}
	return sets
}

// scriptsRunBy lists the .py files a shell script runs, resolved against
// dir ("$here/x.py" and "onnx-models/.../x.py" forms).
func scriptsRunBy(t *testing.T, script, dir string) []string {
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?:\$here/|\.\./|[\w.-]+/)*[\w-]+\.py\b`).FindAllString(string(b), -1) {
		rel := strings.TrimPrefix(m, "$here/")
		found := ""
		for _, p := range []string{filepath.Join(dir, rel), filepath.Join("..", rel), filepath.Join(filepath.Dir(script), rel)} {
			if fileExists(p) {
				found = p
				break
			}
		}
		if found == "" {
			t.Fatalf("%s names %s, which is not in %s, the repository root or beside it", script, m, dir)
		}
		out = append(out, found)
	}
	if len(out) == 0 {
		t.Fatalf("%s runs no Python script; has it changed?", script)
	}
	return out
}

// importRE matches whole import statements (not prose in docstrings that
// happens to start with "import").
var importRE = regexp.MustCompile(`(?m)^[ \t]*(?:import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*)|from[ \t]+(\w+)[\w.]*[ \t]+import[ \t]+[\w(*][^\n]*)[ \t]*(?:#[^\n]*)?$`)

// thirdParty returns the non-standard, non-local modules a script imports,
// following its imports of modules in its own folder.
func thirdParty(t *testing.T, script string, stdlib map[string]bool, seen map[string]bool, out map[string][]string) {
	if seen[script] {
		return
	}
	seen[script] = true
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatalf("%v (named by a set-up or test script)", err)
	}
	for _, m := range importRE.FindAllStringSubmatch(string(b), -1) {
		names := []string{m[2]}
		if m[1] != "" {
			names = strings.Split(m[1], ",")
		}
		for _, n := range names {
			f := strings.Fields(n)
			if len(f) == 0 {
				continue
			}
			mod := strings.Split(f[0], ".")[0]
			local := filepath.Join(filepath.Dir(script), mod+".py")
			switch {
			case mod == "" || stdlib[mod]:
			case fileExists(local):
				thirdParty(t, local, stdlib, seen, out)
			default:
				out[mod] = append(out[mod], script)
			}
		}
	}
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// TestPackageSetsCoverPythonImports: every third-party module imported by
// a Python script that `make demo`, `make model` or the tests run is in the
// matching set of setup-debian-packages.sh (make demo once failed on a fresh
// machine: the demo set lacked python3-numpy).
func TestPackageSetsCoverPythonImports(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: cannot tell the standard library's modules")
	}
	out, err := exec.Command(py, "-c", "import sys; print(' '.join(sorted(sys.stdlib_module_names)))").Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	stdlib := map[string]bool{}
	for _, m := range strings.Fields(string(out)) {
		stdlib[m] = true
	}
	recipe := "../onnx-models/emoji-clip/recipe"
	entries := map[string][]string{
		"demo":  append(scriptsRunBy(t, "demo.sh", recipe), scriptsRunBy(t, recipe+"/make_eval_set.sh", recipe)...),
		"model": scriptsRunBy(t, recipe+"/make_model.sh", recipe),
		// The Python the Go tests run: the random-CLIP maker of the models
		// import tests and the ANN peers of bench/peers.
		"test": {"../onnx-models/tools/make_random_clip.py", "../bench/peers/ann_peer.py"},
	}
	sets := packageSets(t)
	for set, scripts := range entries {
		have, ok := sets[set]
		if !ok {
			t.Fatalf("setup-debian-packages.sh has no %q set", set)
		}
		mods := map[string][]string{}
		seen := map[string]bool{}
		for _, s := range scripts {
			thirdParty(t, s, stdlib, seen, mods)
		}
		names := make([]string, 0, len(mods))
		for m := range mods {
			names = append(names, m)
		}
		sort.Strings(names)
		t.Logf("%s: %d scripts, third-party modules %v", set, len(seen), names)
		for _, m := range names {
			pkg, known := debianPackage[m]
			switch {
			case !known:
				t.Errorf("%s set: %v import %q, which has no Debian package in this test's map", set, mods[m], m)
			case !have[pkg]:
				t.Errorf("%s set lacks %s: %v import %s", set, pkg, mods[m], m)
			}
		}
	}
}
