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

// TestRunInt8 times the tiny model beside its INT8 copy (quantized on the
// fly), with the FLOPs counted from the graph and the ORT option variants.
func TestRunInt8(t *testing.T) {
	r, res, err := Run(context.Background(), Config{Model: tinyModel, Int8: "auto", Batches: []int{1, 4}, Images: 8, Texts: 5, Rounds: 2, Variants: true})
	if err != nil {
		t.Fatal(err)
	}
	// tiny's image tower is one MatMul of [1,192] by [192,4].
	if res.OpsPerImage != 2*192*4 || res.OpsByOp["MatMul"] != 2*192*4 {
		t.Errorf("float32 ops per image %d (%v), want %d", res.OpsPerImage, res.OpsByOp, 2*192*4)
	}
	q := res.Int8
	if q == nil || q.OpsPerImage != 2*192*4 || q.IntOpsPerImage != 2*192*4 || q.Quantization == nil || q.Quantization.SourceModel != "tiny-test" {
		t.Fatalf("int8 result %+v", q)
	}
	if len(q.Rows) != 2 || len(q.Speedup) != 2 {
		t.Fatalf("int8 rows %+v", q.Rows)
	}
	for i, row := range q.Rows {
		if row.OursPerSec <= 0 || row.PlainPerSec <= 0 || q.Speedup[i] != row.OursPerSec/res.Rows[i].OursPerSec || row.ImagesTimed != 2*max(8/row.Batch, 2)*row.Batch {
			t.Errorf("int8 row %+v speedup %v", row, q.Speedup[i])
		}
		if want := row.OursPerSec * 2 * 192 * 4 / 1e9; row.GOPs != want || row.PeakFraction != want/res.Peak.GFLOPs {
			t.Errorf("int8 row %+v: GOP/s want %g", row, want)
		}
		if row.OursPerCPUSec < 0 || row.CPURatio != ratio(row.OursPerCPUSec, row.PlainPerCPUSec) || q.CPUSpeedup[i] != ratio(row.OursPerCPUSec, res.Rows[i].OursPerCPUSec) {
			t.Errorf("int8 row %+v: per-CPU-second figures", row)
		}
	}
	if len(res.Variants) != 2*9 || res.Variants[0].VsDefault != 1 || res.Variants[9].Model != "int8" {
		t.Errorf("variants %+v", res.Variants)
	}
	for _, v := range res.Variants {
		if v.PerSec <= 0 || v.LoadMs <= 0 || v.Batch != 4 {
			t.Errorf("variant %+v", v)
		}
	}
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"int8 / fp32", "of machine fp32 peak", "images/CPU-s", "saved optimized graph", "FMA units", "tiny-test-int8"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRunInt8Errors(t *testing.T) {
	if _, _, err := Run(context.Background(), Config{Model: tinyModel, Int8: "../../encoders/testdata/tiny2/missing", Batches: []int{1}, Rounds: 1}); err == nil {
		t.Error("a missing int8 model was accepted")
	}
}
