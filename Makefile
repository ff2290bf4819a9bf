# mmsearch — build, test, demo, benchmarks, model recipe.
# `make demo` runs the main job on the bundled model; `make test` runs the tests.
# Both do every set-up step they need on a fresh machine.

GO        ?= go
BIN       := bin/mmsearch
PY        ?= /usr/bin/python3
FUZZTIME  ?= 20000x
export CGO_ENABLED := 1

.PHONY: all setup setup-ort setup-gpu setup-test setup-peers setup-cluster build test test-peers vet fuzz demo model eval-set testmodels clean

all: build

## setup: Debian build packages and the ONNX Runtime library (npm pack, pinned sha512); idempotent
setup: setup-ort
	@scripts/setup-debian-packages.sh build

setup-ort:
	@scripts/setup-onnxruntime.sh

## setup-cluster: the pinned Weaviate server, built once into the cache (remote index tests, bench cluster)
setup-cluster:
	@scripts/setup-cluster.sh

## setup-gpu: also the GPU build of ONNX Runtime with its CUDA provider (Linux x64; npm pack, pinned sha512)
setup-gpu: setup
	@scripts/setup-onnxruntime.sh --gpu

## setup-test: what the tests add: headless Chromium, PyTorch (fixtures), hnswlib and FAISS (peers),
## the Go peer weaviate-hnsw, and on Linux x64 the GPU build of ONNX Runtime (its error paths are
## tested without a GPU)
setup-test: setup setup-peers
	@scripts/setup-debian-packages.sh test
	@if [ "$$(uname -s)/$$(uname -m)" = Linux/x86_64 ]; then scripts/setup-onnxruntime.sh --gpu; fi

## setup-peers: build the Go peers of `bench ann` (Weaviate's HNSW, its own Go module) into the cache
setup-peers:
	@scripts/setup-ann-peers.sh

## build: the mmsearch binary in bin/
build: setup
	$(GO) build -o $(BIN) ./cmd/mmsearch

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

## test: set-up, vet, the whole test suite under the race detector (Weaviate tests included), the Go peers' tests and a short fuzz smoke
test: setup-test setup-cluster vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) test-peers
	$(MAKE) fuzz

## test-peers: vet and test the Go peer modules (bench/peers/weaviatehnsw: not part of ./...)
test-peers:
	$(GO) vet -C bench/peers/weaviatehnsw ./...
	$(GO) test -C bench/peers/weaviatehnsw -count=1 -timeout 10m ./...

## fuzz: run each fuzz target for FUZZTIME executions (a count: see scripts/fuzz-smoke.sh)
fuzz:
	@scripts/fuzz-smoke.sh $(FUZZTIME)

## testmodels: regenerate the closed-form ONNX models of the encoder tests (needs python3-torch)
testmodels:
	$(PY) onnx-models/testmodels/make_test_models.py encoders/testdata/tiny
	$(PY) onnx-models/testmodels/make_test_models.py --variant 2 encoders/testdata/tiny2

## demo: the main job on the bundled model: sample collection, index, three queries, contact sheet
demo: build
	@scripts/demo.sh

## model: retrain the bundled emoji-clip model (CPU by default, about 52 min; DEVICE=cuda on a GPU)
model:
	@scripts/setup-debian-packages.sh model
	onnx-models/emoji-clip/recipe/make_model.sh

## eval-set: the held-out OpenMoji evaluation set of the bundled model (no training)
eval-set:
	@scripts/setup-debian-packages.sh demo
	onnx-models/emoji-clip/recipe/make_eval_set.sh

clean:
	rm -rf bin
