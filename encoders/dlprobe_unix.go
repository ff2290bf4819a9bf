//go:build linux || darwin || freebsd

package encoders

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// probe_library loads path with lazy binding, so that only the libraries it
// needs are looked up, and unloads it again. It returns NULL on success and
// the loader's message otherwise.
static const char *probe_library(const char *path) {
	void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) {
		return dlerror();
	}
	dlclose(h);
	return NULL;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// probeLibrary reports whether the dynamic loader can load the shared
// library at path together with every library it needs, and the loader's
// message when it cannot (for the CUDA provider typically a missing
// libcublasLt.so or libcudnn.so). It binds no symbols and unloads the
// library again.
func probeLibrary(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if msg := C.probe_library(cpath); msg != nil {
		return errors.New(C.GoString(msg))
	}
	return nil
}
