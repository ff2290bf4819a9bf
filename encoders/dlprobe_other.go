//go:build !(linux || darwin || freebsd)

package encoders

// probeLibrary has no loader to ask on this platform; ONNX Runtime's own
// error reports a provider that cannot load.
func probeLibrary(string) error { return nil }
