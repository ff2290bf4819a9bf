//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package format

// littleEndian reports whether this host stores numbers little-endian, so that
// slices can be written and read as raw bytes.
const littleEndian = true
