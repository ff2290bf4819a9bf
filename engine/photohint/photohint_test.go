package photohint

import "testing"

func TestCameraPhotos(t *testing.T) {
	phone := Sample{Format: "heic", Width: 4032, Height: 3024}
	dslr := Sample{Format: "jpeg", Width: 1200, Height: 834}  // 1.0008 MP
	small := Sample{Format: "jpeg", Width: 1000, Height: 999} // just under 1 MP
	shot := Sample{Format: "png", Width: 2532, Height: 1170}  // a phone screenshot
	made := Sample{Format: "png", Width: 640, Height: 480, CameraMake: "Canon"}
	emoji := Sample{Format: "png", Width: 72, Height: 72}
	tests := []struct {
		name    string
		samples []Sample
		want    bool
	}{
		{"none", nil, false},
		{"one phone photo", []Sample{phone}, true},
		{"JPEGs of 1 MP and more", []Sample{dslr, dslr, phone}, true},
		{"JPEGs under 1 MP", []Sample{small, small, small}, false},
		{"screenshots are PNGs", []Sample{shot, shot, phone}, false},
		{"camera make whatever the size and format", []Sample{made, made, emoji}, true},
		{"half is not most", []Sample{phone, emoji}, false},
		{"most", []Sample{phone, phone, emoji}, true},
		{"emoji", []Sample{emoji, emoji, emoji}, false},
	}
	for _, tc := range tests {
		if got := CameraPhotos(tc.samples); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
