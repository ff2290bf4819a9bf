package models

import "testing"

// Test helpers of this package, exported to the external tests (package
// models_test), which may import the engine: the engine imports models.
var (
	StartRuntimeForTest = startRuntime
	NeedCatForTest      = needCat
	RandomCLIPForTest   = randomCLIP
	CatJPEGForTest      = catJPEG
)

// HubForTest is testHub without a file server.
func HubForTest(t testing.TB) *Hub { return testHub(t, nil) }
