package encoders

import (
	"context"
	"encoding/json"
	"testing"
)

// TestSpinModesRun opens the tiny image tower under every spin mode on two
// threads (the modes differ only with worker threads) and checks that ONNX
// Runtime takes the mode's config entries and the encoder still answers
// the same vectors.
func TestSpinModesRun(t *testing.T) {
	m := openTiny(t)
	var want [][]float32
	for _, mode := range []SpinMode{SpinDuringRun, SpinNever, SpinAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			enc, err := NewImageEncoder(m, SessionOptions{IntraOpThreads: 2, Spin: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			per := enc.TensorLen()
			pixels := make([]float32, 4*per)
			for i := range pixels {
				pixels[i] = float32((i*7)%11-5) / 3
			}
			got, err := enc.EncodeTensors(context.Background(), pixels, 4)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = got
				return
			}
			for i := range got {
				assertClose(t, mode.String(), got[i], want[i], 0)
			}
		})
	}
}

func TestSpinModeText(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    SpinMode
		wantErr bool
	}{
		{"during-run", SpinDuringRun, false},
		{"never", SpinNever, false},
		{"always", SpinAlways, false},
		{"", 0, true},
		{"on", 0, true},
	} {
		got, err := ParseSpinMode(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("ParseSpinMode(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}

// TestSpinModeJSON: modes are written as their names; reports written
// before modes existed said true (ONNX Runtime's default) or false (off).
func TestSpinModeJSON(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    SpinMode
		wantErr bool
	}{
		{`"during-run"`, SpinDuringRun, false},
		{`"always"`, SpinAlways, false},
		{`true`, SpinAlways, false},
		{`false`, SpinNever, false},
		{`"sometimes"`, 0, true},
		{`3`, 0, true},
	} {
		var got SpinMode
		err := json.Unmarshal([]byte(tc.in), &got)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("unmarshal %s = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	b, err := json.Marshal(struct{ Spin SpinMode }{SpinNever})
	if err != nil || string(b) != `{"Spin":"never"}` {
		t.Errorf("marshal: %s, %v", b, err)
	}
}
