package encoder

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

const tinyModel = "../../encoders/testdata/tiny"

func TestRunComparesWithPlainORT(t *testing.T) {
	r, res, err := Run(context.Background(), Config{Model: tinyModel, Batches: []int{1, 4}, Images: 16, Texts: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || res.Rows[0].Batch != 1 || res.Rows[1].Batch != 4 {
		t.Fatalf("rows %+v", res.Rows)
	}
	for _, row := range res.Rows {
		if row.OursPerSec <= 0 || row.PlainPerSec <= 0 || row.Ratio != row.OursPerSec/row.PlainPerSec || row.ImagesTimed < 2*row.Batch {
			t.Errorf("row %+v", row)
		}
	}
	if res.TextP50Ms <= 0 || res.TextP99Ms < res.TextP50Ms || res.PlainTextP50 <= 0 {
		t.Errorf("text figures %+v", res)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "plain") {
		t.Errorf("report does not name the plain ONNX Runtime peer:\n%s", b.String())
	}
}
