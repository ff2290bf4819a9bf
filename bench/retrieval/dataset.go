package retrieval

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Captions file names looked for, in this order, inside a dataset folder.
const (
	CaptionsJSONL = "captions.jsonl"
	CaptionsCSV   = "captions.csv"
)

// MaxLineBytes bounds one line of a captions file.
const MaxLineBytes = 1 << 20

// ErrNoCaptions is returned by LoadDataset for a folder that holds neither
// captions.jsonl nor captions.csv.
var ErrNoCaptions = errors.New("no " + CaptionsJSONL + " or " + CaptionsCSV)

// Item is one image of a labelled dataset with its captions.
type Item struct {
	// Image is the image's path relative to the dataset folder, with
	// forward slashes, as written in the captions file (cleaned).
	Image string `json:"image"`
	// Path is the image's absolute path.
	Path string `json:"-"`
	// Captions describe the image; the first is the text query.
	Captions []string `json:"captions,omitempty"`
	// Labels classify the image; the first decides what counts as a hit.
	Labels []string `json:"labels,omitempty"`
	// Withheld marks items held out of the model's training.
	Withheld bool `json:"withheld,omitempty"`
	// Line is the line of the captions file the item was read from.
	Line int `json:"-"`
}

// Key is what decides a hit: two items match when their keys are equal. It
// is the first label, or the image path when the item has no labels.
func (it *Item) Key() string {
	if len(it.Labels) > 0 {
		return "label:" + it.Labels[0]
	}
	return "image:" + it.Image
}

// Dataset is a folder of images described by a captions file.
type Dataset struct {
	// Dir is the absolute folder the items' image paths are relative to.
	Dir string `json:"dir"`
	// File is the captions file read.
	File string `json:"file"`
	// Items are in file order.
	Items []Item `json:"-"`
	// HasWithheld reports whether any line had a "withheld" field.
	HasWithheld bool `json:"has_withheld"`
}

// Captions counts the captions of all items.
func (d *Dataset) Captions() int {
	n := 0
	for i := range d.Items {
		n += len(d.Items[i].Captions)
	}
	return n
}

// Limit keeps the first n items (n ≤ 0 keeps all).
func (d *Dataset) Limit(n int) {
	if n > 0 && n < len(d.Items) {
		d.Items = d.Items[:n]
	}
}

// LoadDataset reads a labelled image–text dataset. path is a folder holding
// captions.jsonl (or captions.csv), or such a file itself; image paths in it
// are relative to the file's folder.
//
// A JSONL line is {"image": "rel/path", "captions": [...], "labels": [...],
// "withheld": bool}; only "image" is required and other fields are refused,
// so a misspelt name cannot silently drop data. A CSV has the columns
// image,caption[,label], optionally under a header row naming them (then
// "withheld" may be a column too); rows for the same image add captions.
// Every error names the file and line.
func LoadDataset(path string) (*Dataset, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	file := abs
	if fi.IsDir() {
		file = ""
		for _, name := range []string{CaptionsJSONL, CaptionsCSV} {
			p := filepath.Join(abs, name)
			if _, err := os.Stat(p); err == nil {
				file = p
				break
			}
		}
		if file == "" {
			return nil, fmt.Errorf("dataset %s: %w", path, ErrNoCaptions)
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	ds := &Dataset{Dir: filepath.Dir(file), File: file}
	if strings.EqualFold(filepath.Ext(file), ".csv") {
		err = ds.readCSV(f)
	} else {
		err = ds.readJSONL(f)
	}
	if err != nil {
		return nil, err
	}
	if len(ds.Items) == 0 {
		return nil, fmt.Errorf("dataset %s: no items", file)
	}
	return ds, nil
}

// jsonItem is one line of captions.jsonl.
type jsonItem struct {
	Image    *string  `json:"image"`
	Captions []string `json:"captions"`
	Labels   []string `json:"labels"`
	Withheld *bool    `json:"withheld"`
}

// ReadLines calls fn with each non-blank line of r and its 1-based number.
// Lines longer than MaxLineBytes are an error naming the line.
func ReadLines(r io.Reader, name string, fn func(line []byte, n int) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	for {
		n++
		line, err := readLine(br)
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return nil
		}
		if errors.Is(err, errLongLine) {
			return fmt.Errorf("%s:%d: line longer than %d bytes", name, n, MaxLineBytes)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(line, n); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

var errLongLine = errors.New("line too long")

// readLine reads one line without its end, refusing lines over MaxLineBytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes+2 {
			return nil, errLongLine
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = bytes.TrimRight(line, "\r\n")
		return line, err
	}
}

// DecodeStrict decodes one JSON value from line into v, refusing unknown
// fields and trailing data.
func DecodeStrict(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

func (d *Dataset) readJSONL(r io.Reader) error {
	name := filepath.Base(d.File)
	seen := map[string]int{}
	return ReadLines(r, name, func(line []byte, n int) error {
		var ji jsonItem
		if err := DecodeStrict(line, &ji); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if ji.Image == nil {
			return fmt.Errorf("%s:%d: missing \"image\"", name, n)
		}
		it := Item{Captions: ji.Captions, Labels: ji.Labels, Line: n}
		if ji.Withheld != nil {
			it.Withheld = *ji.Withheld
			d.HasWithheld = true
		}
		if err := d.addItem(&it, *ji.Image, seen); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		return nil
	})
}

func (d *Dataset) readCSV(r io.Reader) error {
	name := filepath.Base(d.File)
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	col := map[string]int{"image": 0, "caption": 1, "label": 2}
	withheld := -1
	ncols := 3
	seen := map[string]int{}
	first := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("%s:%d: %v", name, pe.Line, pe.Err)
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			if strings.EqualFold(strings.TrimSpace(rec[0]), "image") || looksLikeHeader(rec) {
				col, withheld, err = csvHeader(rec)
				if err != nil {
					return fmt.Errorf("%s:%d: %w", name, line, err)
				}
				ncols = len(rec)
				continue
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		get := func(k string) (string, bool) {
			i, ok := col[k]
			if !ok || i >= len(rec) {
				return "", false
			}
			return rec[i], true
		}
		if len(rec) > ncols {
			return fmt.Errorf("%s:%d: %d fields, want at most %d", name, line, len(rec), ncols)
		}
		img, _ := get("image")
		caption, hasCaption := get("caption")
		label, hasLabel := get("label")
		if !hasCaption {
			return fmt.Errorf("%s:%d: missing the caption field", name, line)
		}
		var w bool
		if withheld >= 0 && withheld < len(rec) {
			switch strings.ToLower(strings.TrimSpace(rec[withheld])) {
			case "true", "1", "yes":
				w = true
			case "false", "0", "no", "":
			default:
				return fmt.Errorf("%s:%d: withheld %q is not true or false", name, line, rec[withheld])
			}
			d.HasWithheld = true
		}
		if prev, ok := seen[cleanRel(img)]; ok && img != "" {
			// Another caption of an image already listed.
			it := &d.Items[prev]
			if it.Withheld != w {
				return fmt.Errorf("%s:%d: withheld differs from line %d for the same image", name, line, it.Line)
			}
			if strings.TrimSpace(caption) == "" {
				return fmt.Errorf("%s:%d: empty caption", name, line)
			}
			it.Captions = append(it.Captions, caption)
			if hasLabel && label != "" && !contains(it.Labels, label) {
				it.Labels = append(it.Labels, label)
			}
			continue
		}
		it := Item{Captions: []string{caption}, Withheld: w, Line: line}
		if hasLabel && label != "" {
			it.Labels = []string{label}
		}
		if err := d.addItem(&it, img, seen); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
}

// looksLikeHeader reports whether a first CSV row names columns: it holds
// "image" and only known column names. (A first row starting with "image"
// is taken as a header as well, and checked.)
func looksLikeHeader(rec []string) bool {
	image := false
	for _, h := range rec {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "image":
			image = true
		case "caption", "label", "withheld":
		default:
			return false
		}
	}
	return image
}

// csvHeader maps column names to positions; image and caption are required.
func csvHeader(rec []string) (map[string]int, int, error) {
	col := map[string]int{}
	withheld := -1
	for i, h := range rec {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "image", "caption", "label":
			if _, dup := col[h]; dup {
				return nil, 0, fmt.Errorf("header names column %q twice", h)
			}
			col[h] = i
		case "withheld":
			withheld = i
		default:
			return nil, 0, fmt.Errorf("header: unknown column %q (want image, caption, label, withheld)", h)
		}
	}
	if _, ok := col["caption"]; !ok {
		return nil, 0, errors.New("header lacks a caption column")
	}
	if _, ok := col["image"]; !ok {
		return nil, 0, errors.New("header lacks an image column")
	}
	return col, withheld, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func cleanRel(p string) string { return path.Clean(filepath.ToSlash(p)) }

// addItem checks an item read at it.Line and appends it.
func (d *Dataset) addItem(it *Item, img string, seen map[string]int) error {
	if strings.TrimSpace(img) == "" {
		return errors.New("empty image path")
	}
	if filepath.IsAbs(img) || strings.HasPrefix(img, "/") {
		return fmt.Errorf("image %q: want a path relative to the dataset folder", img)
	}
	rel := cleanRel(img)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("image %q is outside the dataset folder", img)
	}
	if prev, ok := seen[rel]; ok {
		return fmt.Errorf("image %q is already listed on line %d", img, d.Items[prev].Line)
	}
	for i, c := range it.Captions {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("caption %d is empty", i+1)
		}
	}
	for i, l := range it.Labels {
		if strings.TrimSpace(l) == "" {
			return fmt.Errorf("label %d is empty", i+1)
		}
	}
	it.Image = rel
	it.Path = filepath.Join(d.Dir, filepath.FromSlash(rel))
	fi, err := os.Stat(it.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("image %q: no such file in %s", img, d.Dir)
		}
		return fmt.Errorf("image %q: %w", img, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("image %q is not a regular file", img)
	}
	seen[rel] = len(d.Items)
	d.Items = append(d.Items, *it)
	return nil
}
